// Command egress-worker is a stand-in for LiveKit Egress, for tests.
//
// It registers with a real LiveKit server over Redis (psrpc) the way LiveKit
// Egress does, so that the *server* assigns egress ids, keeps the egress list
// and sends the egress_* webhooks. Instead of recording a room through Chrome
// and GStreamer it renders an ffmpeg test pattern as long as the egress was
// active, and stores it where the request says (S3 or a local directory).
//
// Tests steer it through a small HTTP admin API on loopback (faults, listing,
// kill). See README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"github.com/redis/go-redis/v9"
)

func main() {
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis address shared with the LiveKit server")
	localDir := flag.String("local-dir", filepath.Join(os.TempDir(), "egress-worker"), "directory for file outputs without an upload config (file at DIR/filepath)")
	adminAddr := flag.String("admin", "127.0.0.1:0", "loopback address of the admin HTTP API (port 0 picks one)")
	maxDuration := flag.Duration("max-duration", 30*time.Second, "file output limit; past it the egress ends LIMIT_REACHED (like egress's file_output_max_duration)")
	activeDelay := flag.Duration("active-delay", 200*time.Millisecond, "time spent in EGRESS_STARTING before EGRESS_ACTIVE")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("egress-worker: ")

	// The admin API comes first so that tests learn its address even if Redis is slow.
	ln, err := net.Listen("tcp", *adminAddr)
	if err != nil {
		log.Fatalf("admin listen: %v", err)
	}
	fmt.Printf("admin=http://%s\n", ln.Addr())

	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = rdb.Ping(ctx).Err()
	cancel()
	if err != nil {
		log.Fatalf("redis %s: %v", *redisAddr, err)
	}
	bus := psrpc.NewRedisMessageBus(rdb)

	w, err := newWorker(bus, rdb, *localDir, *maxDuration, *activeDelay)
	if err != nil {
		log.Fatalf("%v", err)
	}
	go func() { log.Fatal(http.Serve(ln, w.adminHandler())) }()

	// Like egress's server.Run: ListActiveEgress on the empty topic, StartEgress on
	// the cluster id topic, which is "" for the OSS server (it calls StartEgress(ctx, "", req)).
	internal, err := rpc.NewEgressInternalServer(w, bus)
	if err != nil {
		log.Fatalf("egress internal server: %v", err)
	}
	if err := internal.RegisterListActiveEgressTopic(""); err != nil {
		log.Fatalf("register ListActiveEgress: %v", err)
	}
	if err := internal.RegisterStartEgressTopic(""); err != nil {
		log.Fatalf("register StartEgress: %v", err)
	}
	// psrpc subscribes asynchronously; only claim readiness once Redis has the subscriptions.
	w.waitSubscribed("EgressInternal|StartEgress|REQ", "EgressInternal|StartEgress|RCLAIM")
	fmt.Println("ready")
	log.Printf("registered with the LiveKit server through redis %s; local dir %s", *redisAddr, *localDir)
	select {}
}

// adminHandler serves the loopback test API.
func (w *worker) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /faults", func(rw http.ResponseWriter, r *http.Request) {
		var f fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		switch f.Kind {
		case faultFailMidway, faultAbort, faultUploadFailure:
		default:
			http.Error(rw, "kind must be fail_midway, abort or upload_failure", http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.faults = append(w.faults, f)
		n := len(w.faults)
		w.mu.Unlock()
		writeJSON(rw, map[string]any{"queued": n})
	})
	mux.HandleFunc("DELETE /faults", func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.faults = nil
		w.mu.Unlock()
		writeJSON(rw, map[string]any{"queued": 0})
	})
	mux.HandleFunc("GET /egresses", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, w.snapshot())
	})
	mux.HandleFunc("POST /kill", func(rw http.ResponseWriter, r *http.Request) {
		// Like a crashed worker: no status report, no cleanup. Answer first so the
		// caller is not left with a broken connection.
		rw.WriteHeader(http.StatusNoContent)
		if f, ok := rw.(http.Flusher); ok {
			f.Flush()
		}
		log.Printf("killed through the admin API")
		os.Exit(137)
	})
	return mux
}

func writeJSON(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(v)
}
