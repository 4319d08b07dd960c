package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
)

// withHealth serves GET /health from the file FIXTURE_HEALTH_FILE names:
// 500 while it contains "fail", no answer while it contains "hang" (until
// the client gives up), 200 otherwise (also when it is missing). Each answer
// is logged as "health <code>". Other paths go to next; without the variable
// next serves everything.
func withHealth(next http.Handler) http.Handler {
	path, ok := os.LookupEnv("FIXTURE_HEALTH_FILE")
	if !ok {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			next.ServeHTTP(w, r)
			return
		}
		b, _ := os.ReadFile(path)
		switch s := string(b); {
		case strings.Contains(s, "hang"):
			fmt.Println("health hang")
			<-r.Context().Done()
		case strings.Contains(s, "fail"):
			fmt.Println("health 500")
			http.Error(w, "unhealthy", http.StatusInternalServerError)
		default:
			fmt.Println("health 200")
			fmt.Fprintln(w, "ok")
		}
	})
}
