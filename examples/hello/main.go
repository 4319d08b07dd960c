// Command hello is bpm's demo process: a tiny web server that logs one line per
// request, so `search_logs` has something to find. It listens on 127.0.0.1:8080
// (PORT overrides the port) or, when bpm hands it a socket (`listen` in .mcp-run),
// on that inherited socket, which is what makes restarts drop no request.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(0)
	log.SetOutput(os.Stdout)
	log.SetPrefix("hello: ")

	ln, err := listener()
	if err != nil {
		log.Fatal(err)
	}
	started := time.Now()
	d := &drainer{}
	srv := &http.Server{
		Handler: logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "Hello from bpm's demo: pid %d, up %s.\n", os.Getpid(), time.Since(started).Round(time.Second))
		})),
		ConnState: d.track,
	}
	log.Printf("listening on http://%s", ln.Addr())

	// bpm stops a process with SIGTERM: finish in-flight requests, then exit 0.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()
	log.Print("shutting down")
	if err := d.stop(srv, ln, served, 10*time.Second); err != nil {
		log.Print(err)
	}
}

// listener returns the socket bpm passed as fd 3 (LISTEN_FDS=1, systemd's
// socket-activation protocol), else a new one on 127.0.0.1:$PORT (default 8080).
func listener() (net.Listener, error) {
	if os.Getenv("LISTEN_FDS") == "1" {
		f := os.NewFile(3, "listener")
		defer f.Close()
		return net.FileListener(f)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	return net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
}

// logRequests writes one line per request: method, path, status, duration.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.Printf("%s %s %d %s", r.Method, r.URL.Path, rec.status, time.Since(start).Round(time.Microsecond))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
