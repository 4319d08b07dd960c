package mcp

import (
	"reflect"

	"github.com/google/jsonschema-go/jsonschema"

	"bpm/api"
)

// outputSchemaOptions maps types with a custom wire form to their schemas.
var outputSchemaOptions = &jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
	reflect.TypeFor[api.LineOut](): api.LineSchema(),
}}
