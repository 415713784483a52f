package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/psrpc"
)

// fileOutput is the one file output of a request, resolved as egress resolves it.
type fileOutput struct {
	key             string // storage path: FileInfo.filename and the S3 key
	ext             string
	contentType     string
	audio, video    bool
	s3              *livekit.S3Upload // nil: write under --local-dir
	disableManifest bool
}

func (o *fileOutput) storageName() string {
	if o.s3 != nil {
		return "S3"
	}
	return "Local"
}

func invalid(field string) error {
	return psrpc.NewErrorf(psrpc.InvalidArgument, "request has missing or invalid field: %s", field)
}

func newFileOutput(rc *livekit.RoomCompositeEgressRequest, info *livekit.EgressInfo) (*fileOutput, error) {
	if rc.AudioOnly && rc.VideoOnly {
		return nil, invalid("audio_only and video_only")
	}
	if len(rc.StreamOutputs)+len(rc.SegmentOutputs)+len(rc.ImageOutputs) > 0 || rc.GetStream() != nil || rc.GetSegments() != nil {
		return nil, psrpc.NewErrorf(psrpc.Unimplemented, "stand-in egress worker only records file outputs")
	}
	files := rc.FileOutputs
	if f := rc.GetFile(); f != nil { // deprecated oneof, still accepted
		files = append(files, f)
	}
	switch len(files) {
	case 0:
		return nil, invalid("output")
	case 1:
	default:
		return nil, invalid("multiple file outputs")
	}
	f := files[0]
	if f.GetGcp() != nil || f.GetAzure() != nil || f.GetAliOSS() != nil {
		return nil, psrpc.NewErrorf(psrpc.Unimplemented, "stand-in egress worker only uploads to S3 or a local directory")
	}

	o := &fileOutput{audio: !rc.VideoOnly, video: !rc.AudioOnly, s3: f.GetS3(), disableManifest: f.DisableManifest}
	fileType := f.FileType
	if fileType == livekit.EncodedFileType_DEFAULT_FILETYPE {
		fileType = livekit.EncodedFileType_MP4 // DEFAULT is OGG for audio only, MP4 otherwise
		if !o.video {
			fileType = livekit.EncodedFileType_OGG
		}
	}
	switch fileType {
	case livekit.EncodedFileType_MP4:
		o.ext, o.contentType = ".mp4", "video/mp4"
	case livekit.EncodedFileType_OGG:
		if o.video {
			return nil, invalid("file_type: ogg cannot hold video")
		}
		o.ext, o.contentType = ".ogg", "audio/ogg"
	default:
		return nil, psrpc.NewErrorf(psrpc.Unimplemented, "stand-in egress worker writes MP4 or OGG only")
	}
	o.key = storagePath(f.Filepath, info, o.ext)
	return o, nil
}

// storagePath applies egress's filepath rules: {room_name}, {room_id}, {time} and
// {utc} are replaced; an empty path or a directory gets <room>-<time><ext>; a
// missing or wrong extension is fixed; leading ../ are dropped.
func storagePath(p string, info *livekit.EgressInfo, ext string) string {
	dir := strings.HasSuffix(p, "/")
	p = path.Clean(p)
	for strings.HasPrefix(p, "../") {
		p = p[3:]
	}
	if p == "." || p == ".." {
		p = ""
	} else if dir {
		p += "/"
	}
	now := time.Now()
	p = strings.NewReplacer(
		"{room_name}", info.RoomName,
		"{room_id}", info.RoomId,
		"{time}", now.Format("2006-01-02T150405"),
		"{utc}", fmt.Sprintf("%s%03d", now.Format("20060102150405"), now.UnixMilli()%1000),
	).Replace(p)
	if p == "" || strings.HasSuffix(p, "/") {
		return p + info.RoomName + "-" + now.Format("2006-01-02T150405") + ext
	}
	if !strings.HasSuffix(p, ext) {
		switch e := path.Ext(p); e {
		case ".mp4", ".ogg", ".mp3", ".webm", ".ivf", ".ts", ".m3u8", ".raw":
			p = strings.TrimSuffix(p, e)
		}
		p += ext
	}
	return p
}

// render writes an ffmpeg test pattern lasting d: H.264 + AAC in MP4, Opus in OGG.
// It is rendered at the end, faster than real time, so a running egress costs no CPU.
func render(o *fileOutput, dst string, d time.Duration) error {
	d = max(d, 40*time.Millisecond)
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}
	if o.video {
		args = append(args, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25")
	}
	if o.audio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
	}
	args = append(args, "-t", fmt.Sprintf("%.3f", d.Seconds()), "-threads", "1")
	if o.video {
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	}
	if o.audio && o.ext == ".ogg" {
		args = append(args, "-c:a", "libopus", "-b:a", "64k")
	} else if o.audio {
		args = append(args, "-c:a", "aac", "-b:a", "128k")
	}
	if o.ext == ".mp4" {
		args = append(args, "-movflags", "+faststart")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ffmpeg", append(args, dst)...).CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// store puts a local file at key, in S3 or under --local-dir, and returns its
// location the way egress reports it, and its size.
func (w *worker) store(o *fileOutput, local, key, contentType string) (string, int64, error) {
	var location string
	var err error
	if o.s3 == nil {
		location, err = copyLocal(local, filepath.Join(w.localDir, key))
	} else {
		location, err = uploadS3(o.s3, local, key, contentType)
	}
	if err != nil {
		return "", 0, psrpc.NewErrorf(psrpc.InvalidArgument, "%s upload failed: %v", o.storageName(), err)
	}
	st, err := os.Stat(local)
	if err != nil {
		return "", 0, psrpc.NewError(psrpc.Internal, err)
	}
	return location, st.Size(), nil
}

// storeManifest writes <dir of filepath>/<egress_id>.json next to the file, as
// egress does unless disable_manifest is set. Failures are only logged, as there.
func (w *worker) storeManifest(e *egressJob, location string) string {
	e.mu.Lock()
	m, _ := json.MarshalIndent(map[string]any{
		"egress_id": e.info.EgressId, "room_id": e.info.RoomId, "room_name": e.info.RoomName,
		"files": []map[string]string{{"filename": e.file.Filename, "location": location}},
	}, "", "  ")
	id := e.info.EgressId
	e.mu.Unlock()

	tmp, err := os.CreateTemp("", "egress-worker-manifest-")
	if err != nil {
		return ""
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(m)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		key := path.Join(path.Dir(e.out.key), id+".json")
		if location, _, err = w.store(e.out, tmp.Name(), key, "application/json"); err == nil {
			return location
		}
	}
	fmt.Fprintf(os.Stderr, "egress-worker: %s: manifest: %v\n", id, err)
	return ""
}

func copyLocal(src, dst string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	if _, err = io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	if err = out.Close(); err != nil {
		return "", err
	}
	return filepath.Abs(dst)
}

// uploadS3 uploads with the SDK's upload manager like egress (multipart above 5 MiB).
func uploadS3(conf *livekit.S3Upload, local, key, contentType string) (string, error) {
	cfg := aws.Config{Region: conf.Region}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if conf.AccessKey != "" && conf.Secret != "" {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(conf.AccessKey, conf.Secret, conf.SessionToken)
	}
	if conf.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(conf.Endpoint)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = conf.ForcePathStyle })

	f, err := os.Open(local)
	if err != nil {
		return "", err
	}
	defer f.Close()
	disposition := conf.ContentDisposition
	if disposition == "" {
		disposition = "inline"
	}
	in := &s3.PutObjectInput{
		Bucket: aws.String(conf.Bucket), Key: aws.String(key), Body: f,
		ContentType: aws.String(contentType), ContentDisposition: aws.String(disposition),
		Metadata: conf.Metadata,
	}
	if conf.Tagging != "" {
		in.Tagging = aws.String(conf.Tagging)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := manager.NewUploader(client).Upload(ctx, in); err != nil {
		return "", err
	}

	// Location as livekit/storage builds it (including its quirk of prefixing
	// "https://" to a virtual-hosted endpoint that already has a scheme).
	endpoint := conf.Endpoint
	if endpoint == "" {
		endpoint = "s3.amazonaws.com"
	}
	if conf.ForcePathStyle {
		if !strings.HasPrefix(endpoint, "http") {
			endpoint = "https://" + endpoint
		}
		return fmt.Sprintf("%s/%s/%s", endpoint, conf.Bucket, key), nil
	}
	return fmt.Sprintf("https://%s.%s/%s", conf.Bucket, endpoint, key), nil
}
