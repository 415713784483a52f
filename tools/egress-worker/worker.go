package main

import (
	"context"
	"errors"
	"log"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/livekit/protocol/egress"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"github.com/redis/go-redis/v9"
)

// Fault kinds the admin API accepts; each queued fault is consumed by the next egress.
const (
	faultFailMidway    = "fail_midway"    // ACTIVE for delay_ms, then FAILED (500)
	faultAbort         = "abort"          // STARTING for delay_ms, then ABORTED (412), like a missing start signal
	faultUploadFailure = "upload_failure" // records normally, then the upload fails: FAILED (400)
)

type fault struct {
	Kind    string `json:"kind"`
	DelayMS int    `json:"delay_ms"`
}

func (f fault) delay() time.Duration { return time.Duration(f.DelayMS) * time.Millisecond }

type worker struct {
	io          rpc.IOInfoClient
	handler     rpc.EgressHandlerServer
	rdb         *redis.Client
	localDir    string
	maxDuration time.Duration
	activeDelay time.Duration
	updates     chan *livekit.EgressInfo // status reports, sent to the server in order

	mu       sync.Mutex
	egresses map[string]*egressJob
	order    []string // egress ids in start order, for GET /egresses
	faults   []fault
}

// egressJob is one egress. Its info is only touched with mu held: psrpc serialises
// what handlers return on other goroutines, so everything leaving is a clone.
type egressJob struct {
	mu      sync.Mutex
	info    *livekit.EgressInfo
	file    *livekit.FileInfo // info.FileResults[0], also the legacy info.Result.File
	out     *fileOutput
	fault   fault
	stopped chan struct{} // closed once StopEgress moved the status on
	stopOK  bool
}

func (e *egressJob) signalStop() {
	if !e.stopOK {
		e.stopOK = true
		close(e.stopped)
	}
}

func newWorker(bus psrpc.MessageBus, rdb *redis.Client, localDir string, maxDuration, activeDelay time.Duration) (*worker, error) {
	io, err := rpc.NewIOInfoClient(bus)
	if err != nil {
		return nil, err
	}
	w := &worker{
		io: io, rdb: rdb, localDir: localDir, maxDuration: maxDuration, activeDelay: activeDelay,
		updates:  make(chan *livekit.EgressInfo, 1000),
		egresses: map[string]*egressJob{},
	}
	// One EgressHandler server for all egresses; real egress has one per handler
	// process, registered on the egress id as topic.
	if w.handler, err = rpc.NewEgressHandlerServer(w, bus); err != nil {
		return nil, err
	}
	go w.sendUpdates()
	return w, nil
}

// StartEgress accepts a job (psrpc EgressInternal). The server has already picked
// the egress id and room id. Like egress, the worker stores the egress through
// IOInfo.CreateEgress (which makes the server send egress_started) before answering;
// the server's own CreateEgress afterwards then finds it and does nothing.
func (w *worker) StartEgress(ctx context.Context, req *rpc.StartEgressRequest) (*livekit.EgressInfo, error) {
	rc := req.GetRoomComposite()
	if rc == nil {
		return nil, psrpc.NewErrorf(psrpc.Unimplemented, "stand-in egress worker only records room composites")
	}
	w.mu.Lock()
	_, exists := w.egresses[req.EgressId]
	w.mu.Unlock()
	if exists {
		return nil, psrpc.NewErrorf(psrpc.AlreadyExists, "egress already exists")
	}

	now := time.Now().UnixNano()
	info := &livekit.EgressInfo{
		EgressId: req.EgressId, RoomId: req.RoomId, RoomName: rc.RoomName,
		Status: livekit.EgressStatus_EGRESS_STARTING, StartedAt: now, UpdatedAt: now,
		SourceType: livekit.EgressSourceType_EGRESS_SOURCE_TYPE_WEB,
	}
	if rc.AudioOnly && rc.Layout == "" && rc.CustomBaseUrl == "" {
		info.SourceType = livekit.EgressSourceType_EGRESS_SOURCE_TYPE_SDK // egress skips Chrome then
	}
	out, err := newFileOutput(rc, info)
	if err != nil {
		return nil, err
	}
	// The stored request has its credentials replaced by {access_key}/{secret}.
	redacted := proto.Clone(rc).(*livekit.RoomCompositeEgressRequest)
	egress.RedactEncodedOutputs(redacted)
	info.Request = &livekit.EgressInfo_RoomComposite{RoomComposite: redacted}
	file := &livekit.FileInfo{Filename: out.key}
	info.FileResults = []*livekit.FileInfo{file}
	info.Result = &livekit.EgressInfo_File{File: file}

	e := &egressJob{info: info, file: file, out: out, stopped: make(chan struct{})}
	w.mu.Lock()
	if len(w.faults) > 0 {
		e.fault, w.faults = w.faults[0], w.faults[1:]
	}
	w.mu.Unlock()

	// StopEgress/UpdateStream reach the job on its egress id; be subscribed before
	// the server can learn the id.
	if err := w.handler.RegisterStopEgressTopic(req.EgressId); err != nil {
		return nil, err
	}
	if err := w.handler.RegisterUpdateStreamTopic(req.EgressId); err != nil {
		w.handler.DeregisterStopEgressTopic(req.EgressId)
		return nil, err
	}
	w.waitSubscribed("EgressHandler|StopEgress|" + req.EgressId + "|REQ")

	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.io.CreateEgress(cctx, proto.Clone(info).(*livekit.EgressInfo)); err != nil {
		w.release(req.EgressId)
		return nil, err
	}
	w.mu.Lock()
	w.egresses[req.EgressId] = e
	w.order = append(w.order, req.EgressId)
	w.mu.Unlock()
	log.Printf("%s starting: room %q, file %q, fault %q", req.EgressId, rc.RoomName, out.key, e.fault.Kind)
	go w.run(e)
	return proto.Clone(info).(*livekit.EgressInfo), nil
}

// StartEgressAffinity: real egress answers 0.5 when idle and 1 when busy, so an
// idle worker costs the server a 500 ms short-circuit wait; 1 skips that.
func (w *worker) StartEgressAffinity(context.Context, *rpc.StartEgressRequest) float32 { return 1 }

func (w *worker) ListActiveEgress(context.Context, *rpc.ListActiveEgressRequest) (*rpc.ListActiveEgressResponse, error) {
	res := &rpc.ListActiveEgressResponse{}
	for _, e := range w.jobs() {
		e.mu.Lock()
		if e.info.Status < livekit.EgressStatus_EGRESS_COMPLETE {
			res.EgressIds = append(res.EgressIds, e.info.EgressId)
		}
		e.mu.Unlock()
	}
	return res, nil
}

// StopEgress (EgressHandler) changes the status before answering, as egress's
// SendEOS does: ACTIVE becomes ENDING, STARTING becomes ABORTED.
func (w *worker) StopEgress(_ context.Context, req *livekit.StopEgressRequest) (*livekit.EgressInfo, error) {
	w.mu.Lock()
	e := w.egresses[req.EgressId]
	w.mu.Unlock()
	if e == nil {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "egress not found")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.info.Status {
	case livekit.EgressStatus_EGRESS_STARTING:
		e.info.SetEndReason(livekit.EndReasonAPI)
		e.info.SetAborted(livekit.MsgStoppedBeforeStarted)
		w.report(e)
		e.signalStop()
	case livekit.EgressStatus_EGRESS_ACTIVE:
		e.info.SetEndReason(livekit.EndReasonAPI)
		e.info.UpdateStatus(livekit.EgressStatus_EGRESS_ENDING)
		w.report(e)
		e.signalStop()
	}
	return proto.Clone(e.info).(*livekit.EgressInfo), nil
}

func (w *worker) UpdateStream(context.Context, *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	return nil, psrpc.NewErrorf(psrpc.InvalidArgument, "non-streaming pipeline") // as egress answers for file outputs
}

func (w *worker) UpdateEgress(context.Context, *livekit.UpdateEgressRequest) (*livekit.EgressInfo, error) {
	return nil, psrpc.ErrUnimplemented // never registered, like egress v1.9
}

// run drives one egress through its statuses.
func (w *worker) run(e *egressJob) {
	defer w.release(e.info.EgressId)

	// EGRESS_STARTING: real egress waits for Chrome's start signal here.
	wait := w.activeDelay
	if e.fault.Kind == faultAbort {
		wait = e.fault.delay()
	}
	select {
	case <-e.stopped: // StopEgress already ended it ABORTED
		return
	case <-time.After(wait):
	}
	e.mu.Lock()
	if e.info.Status != livekit.EgressStatus_EGRESS_STARTING {
		e.mu.Unlock()
		return
	}
	if e.fault.Kind == faultAbort {
		e.info.SetAborted(livekit.MsgStartNotReceived)
		w.report(e)
		e.mu.Unlock()
		return
	}
	e.file.StartedAt = time.Now().UnixNano()
	e.info.UpdateStatus(livekit.EgressStatus_EGRESS_ACTIVE)
	w.report(e)
	e.mu.Unlock()

	// EGRESS_ACTIVE until StopEgress, the session limit or a fault.
	limit := time.NewTimer(w.maxDuration)
	defer limit.Stop()
	var midway <-chan time.Time
	if e.fault.Kind == faultFailMidway {
		midway = time.After(e.fault.delay())
	}
	select {
	case <-e.stopped: // now ENDING
	case <-limit.C:
		e.mu.Lock()
		if e.info.Status == livekit.EgressStatus_EGRESS_ACTIVE {
			// No update here: like egress, LIMIT_REACHED is reported once the file is stored.
			e.info.SetLimitReached()
			e.info.SetEndReason(livekit.EndReasonLimitReached)
		}
		e.mu.Unlock()
	case <-midway:
		e.mu.Lock()
		if e.info.Status == livekit.EgressStatus_EGRESS_ACTIVE {
			e.info.SetFailed(psrpc.NewErrorf(psrpc.Internal, "pipeline failed (stand-in fault %s)", faultFailMidway))
			w.report(e)
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
	}
	w.finish(e)
}

// finish renders the file for the active span, stores it and reports the final status.
func (w *worker) finish(e *egressJob) {
	e.mu.Lock()
	started, ended := e.file.StartedAt, time.Now().UnixNano()
	if e.info.Status == livekit.EgressStatus_EGRESS_LIMIT_REACHED {
		ended = e.info.EndedAt
	}
	e.mu.Unlock()

	location, size, err := w.produce(e, time.Duration(ended-started))
	var manifest string
	if err == nil && !e.out.disableManifest {
		manifest = w.storeManifest(e, location)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.info.SetFailed(err)
	} else {
		e.file.EndedAt, e.file.Duration = ended, ended-started
		e.file.Size, e.file.Location = size, location
		e.info.ManifestLocation = manifest
		if e.info.Status == livekit.EgressStatus_EGRESS_ENDING {
			e.info.SetComplete()
		} else {
			e.info.UpdatedAt = time.Now().UnixNano() // LIMIT_REACHED keeps its ended_at
		}
	}
	w.report(e)
}

func (w *worker) produce(e *egressJob, d time.Duration) (string, int64, error) {
	tmp, err := os.MkdirTemp("", "egress-worker-")
	if err != nil {
		return "", 0, psrpc.NewError(psrpc.Internal, err)
	}
	defer os.RemoveAll(tmp)
	local := filepath.Join(tmp, "out"+e.out.ext)
	if err := render(e.out, local, d); err != nil {
		return "", 0, psrpc.NewErrorf(psrpc.Internal, "ffmpeg: %v", err)
	}
	if e.fault.Kind == faultUploadFailure {
		return "", 0, psrpc.NewErrorf(psrpc.InvalidArgument, "%s upload failed: stand-in fault %s", e.out.storageName(), faultUploadFailure)
	}
	return w.store(e.out, local, e.out.key, e.out.contentType)
}

// report queues the current info for IOInfo.UpdateEgress; call with e.mu held so
// reports leave in the order the statuses changed.
func (w *worker) report(e *egressJob) {
	log.Printf("%s %s %s", e.info.EgressId, e.info.Status, e.info.Error)
	select {
	case w.updates <- proto.Clone(e.info).(*livekit.EgressInfo):
	default:
		log.Printf("%s: update queue full, dropped %s", e.info.EgressId, e.info.Status)
	}
}

// sendUpdates sends status reports one at a time, retrying timeouts like egress's IO client.
func (w *worker) sendUpdates() {
	for info := range w.updates {
		backoff := 250 * time.Millisecond
		for attempt := 1; ; attempt++ {
			_, err := w.io.UpdateEgress(context.Background(), info, psrpc.WithRequestTimeout(10*time.Second))
			if err == nil {
				break
			}
			if errors.Is(err, psrpc.ErrRequestTimedOut) && attempt < 5 {
				time.Sleep(backoff)
				backoff *= 2
				continue
			}
			log.Printf("%s: UpdateEgress %s failed: %v", info.EgressId, info.Status, err)
			break
		}
	}
}

// release stops answering StopEgress/UpdateStream for an ended egress, as the
// exiting handler process does; the server then answers from its store.
func (w *worker) release(egressID string) {
	w.handler.DeregisterStopEgressTopic(egressID)
	w.handler.DeregisterUpdateStreamTopic(egressID)
}

// waitSubscribed waits (bounded) until Redis has a subscriber on each psrpc
// channel, since psrpc subscribes in the background.
func (w *worker) waitSubscribed(channels ...string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		counts, err := w.rdb.PubSubNumSub(context.Background(), channels...).Result()
		if err == nil && !slices.ContainsFunc(channels, func(c string) bool { return counts[c] < 1 }) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log.Printf("warning: no subscription seen on %v after 5s", channels)
}

func (w *worker) jobs() []*egressJob {
	w.mu.Lock()
	defer w.mu.Unlock()
	jobs := make([]*egressJob, 0, len(w.order))
	for _, id := range w.order {
		jobs = append(jobs, w.egresses[id])
	}
	return jobs
}

type egressView struct {
	EgressID  string `json:"egress_id"`
	RoomName  string `json:"room_name"`
	Status    string `json:"status"`
	Fault     string `json:"fault,omitempty"`
	Error     string `json:"error,omitempty"`
	ErrorCode int32  `json:"error_code,omitempty"`
	Filename  string `json:"filename"`
	Location  string `json:"location,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Duration  int64  `json:"duration_ns,omitempty"`
}

func (w *worker) snapshot() []egressView {
	views := []egressView{}
	for _, e := range w.jobs() {
		e.mu.Lock()
		views = append(views, egressView{
			EgressID: e.info.EgressId, RoomName: e.info.RoomName, Status: e.info.Status.String(),
			Fault: e.fault.Kind, Error: e.info.Error, ErrorCode: e.info.ErrorCode,
			Filename: e.file.Filename, Location: e.file.Location, Size: e.file.Size, Duration: e.file.Duration,
		})
		e.mu.Unlock()
	}
	return views
}
