package config

import (
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// keyIndex records where each key of the document is and what shape its value
// has. The decoder reports positions only for its own errors; semantic errors
// found after decoding take their line from here.
type keyIndex struct {
	entries []keyEntry     // in document order
	first   map[string]int // joined path -> line of first appearance
	newline []int          // offsets of the document's newlines, for lineOf
}

type keyEntry struct {
	path []string
	line int
	val  valueInfo
}

// valueInfo is the shape of a value, enough to say what was given instead of what was wanted.
type valueInfo struct {
	kind unstable.Kind
	bad  string // array or inline table: the first element that is not a string, described; "" if none
}

// scanKeys indexes every key of doc: table headers, keys (dotted or not), the
// keys of inline tables, and the implicit tables that dotted keys create.
func scanKeys(doc []byte) (*keyIndex, error) {
	x := &keyIndex{first: map[string]int{}}
	for i, b := range doc {
		if b == '\n' {
			x.newline = append(x.newline, i)
		}
	}
	var p unstable.Parser
	p.Reset(doc)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(e.Key())
			x.add(table, x.lineOf(e.Child()), valueInfo{kind: e.Kind})
		case unstable.KeyValue:
			x.addKeyValue(table, e)
		}
	}
	return x, p.Error()
}

func (x *keyIndex) addKeyValue(prefix []string, kv *unstable.Node) {
	path := slices.Concat(prefix, keyParts(kv.Key()))
	it := kv.Key()
	it.Next()
	v := kv.Value()
	x.add(path, x.lineOf(it.Node()), shape(v))
	if v.Kind == unstable.InlineTable {
		children := v.Children()
		for children.Next() {
			x.addKeyValue(path, children.Node())
		}
	}
}

// add records path and, unless seen before, the implicit tables above it.
func (x *keyIndex) add(path []string, line int, v valueInfo) {
	for i := 1; i < len(path); i++ {
		parent := path[:i:i]
		if _, ok := x.first[joinKey(parent)]; !ok {
			x.first[joinKey(parent)] = line
			x.entries = append(x.entries, keyEntry{path: parent, line: line, val: valueInfo{kind: unstable.Table}})
		}
	}
	if _, ok := x.first[joinKey(path)]; !ok {
		x.first[joinKey(path)] = line
	}
	x.entries = append(x.entries, keyEntry{path: path, line: line, val: v})
}

// line returns the line where path first appears, or 0.
func (x *keyIndex) line(path ...string) int {
	if x == nil {
		return 0
	}
	return x.first[joinKey(path)]
}

// lineOr returns the line of the first of paths that appears in the document, or 0.
func (x *keyIndex) lineOr(paths ...[]string) int {
	for _, p := range paths {
		if l := x.line(p...); l > 0 {
			return l
		}
	}
	return 0
}

// resolve maps a key reported by the decoder at line to the full key path in
// the document and the shape of its value. The decoder's key can be partial
// (duplicate keys give only the last part; keys inside inline tables miss the
// table's name), so the last entry at or before line that ends with the
// decoder's key wins, else the last one that ends with its last part.
func (x *keyIndex) resolve(line int, key toml.Key) ([]string, *valueInfo) {
	if x == nil || len(key) == 0 {
		return []string(key), nil
	}
	var suffix, last *keyEntry
	for i := range x.entries {
		e := &x.entries[i]
		if e.line > line {
			break
		}
		if hasSuffix(e.path, key) {
			suffix = e
		}
		if e.path[len(e.path)-1] == key[len(key)-1] {
			last = e
		}
	}
	if suffix == nil {
		suffix = last
	}
	if suffix == nil {
		return []string(key), nil
	}
	return suffix.path, &suffix.val
}

func hasSuffix(path, suffix []string) bool {
	return len(path) >= len(suffix) && slices.Equal(path[len(path)-len(suffix):], suffix)
}

// joinKey joins a path with a byte that cannot be confused with a dot inside a quoted key.
func joinKey(path []string) string { return strings.Join(path, "\x00") }

func keyParts(it unstable.Iterator) []string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// lineOf is the line (from 1) where n begins: one more than the newlines before it.
func (x *keyIndex) lineOf(n *unstable.Node) int {
	line, _ := slices.BinarySearch(x.newline, int(n.Raw.Offset))
	return line + 1
}

// shape describes a value node; for containers it notes the first non-string element.
func shape(n *unstable.Node) valueInfo {
	v := valueInfo{kind: n.Kind}
	children := n.Children()
	for children.Next() {
		c := children.Node()
		if n.Kind == unstable.InlineTable {
			c = c.Value()
		} else if n.Kind != unstable.Array {
			break
		}
		if c.Kind != unstable.String {
			v.bad = shape(c).describe()
			break
		}
	}
	return v
}

// describe names the shape for a user: "a string", "an array containing an integer".
func (v valueInfo) describe() string {
	switch v.kind {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.Bool:
		return "a boolean"
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return "a date/time"
	case unstable.Array:
		if v.bad == "" {
			return "an array of strings"
		}
		return "an array containing " + v.bad
	case unstable.Table, unstable.InlineTable:
		if v.bad == "" {
			return "a table"
		}
		return "a table containing " + v.bad
	case unstable.ArrayTable:
		return "an array of tables"
	}
	return "a value"
}
