package driver

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"strings"
	"testing"

	"github.com/mesos/mesos-go/api/v1/lib/recordio"
)

// TestFrameReaderRoundTrip: whatever mesos-go's RecordIO writer (the one the
// stand-in and a Mesos master's framing agree with) writes, the reader gives
// back, record for record, then io.EOF.
func TestFrameReaderRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 200; round++ {
		var frames [][]byte
		var buf bytes.Buffer
		w := recordio.NewWriter(&buf)
		for n := rng.Intn(20); n > 0; n-- {
			size := 1 + rng.Intn(1<<rng.Intn(17)) // 1 byte .. 64 KiB, mostly small
			f := make([]byte, size)
			rng.Read(f)
			frames = append(frames, f)
			if err := w.WriteFrame(f); err != nil {
				t.Fatal(err)
			}
		}
		// Deliver the stream in random small pieces, as a network would.
		r := newFrameReader(&chunkReader{data: buf.Bytes(), rng: rng}, 1<<20)
		for i, want := range frames {
			got, err := r.ReadFrame()
			if err != nil {
				t.Fatalf("round %d, frame %d: %v", round, i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("round %d, frame %d: got %d bytes, want %d", round, i, len(got), len(want))
			}
		}
		if _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("round %d: after the last frame: %v, want io.EOF", round, err)
		}
	}
}

// chunkReader returns data in random pieces of 1..64 bytes.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(1+c.rng.Intn(64), len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestFrameReaderErrors(t *testing.T) {
	tests := map[string]struct {
		in      string
		max     int
		want    error  // errors.Is, when set
		message string // else: contained in the error
	}{
		"empty stream":           {in: "", want: io.EOF},
		"cut in the length":      {in: "12", want: io.ErrUnexpectedEOF},
		"cut in the record":      {in: "5\nabc", want: io.ErrUnexpectedEOF},
		"not a number":           {in: "x1\nabc", message: "bad record length"},
		"negative":               {in: "-1\n", message: "bad record length"},
		"too long a length line": {in: strings.Repeat("1", 21) + "\n", message: "longer than 20"},
		"over the limit":         {in: "11\nhello world", max: 10, message: "larger than the limit"},
		"huge":                   {in: "99999999999999999999\n", message: "bad record length"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = 1 << 20
			}
			_, err := newFrameReader(strings.NewReader(tc.in), max).ReadFrame()
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("error %v, want %v", err, tc.want)
			case tc.want == nil && !strings.Contains(err.Error(), tc.message):
				t.Errorf("error %v, want one mentioning %q", err, tc.message)
			}
		})
	}
	// Empty records carry nothing and are skipped.
	got, err := newFrameReader(strings.NewReader("0\n0\n2\nhi"), 10).ReadFrame()
	if err != nil || string(got) != "hi" {
		t.Errorf("after empty records: %q, %v", got, err)
	}
}
