package process

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
)

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	if err := writeFrame(&b, kDone, 1, 2, 1<<63); err != nil {
		t.Fatal(err)
	}
	if err := writeText(&b, kFail, "bad news"); err != nil {
		t.Fatal(err)
	}
	writeFrame(&b, kHello)
	wire := slices.Clone(b.Bytes())

	f, err := readFrame(&b)
	if err != nil || f.kind != kDone || !slices.Equal(f.vals, []uint64{1, 2, 1 << 63}) {
		t.Errorf("frame 1 = %v %v, %v; want %v [1 2 2^63]", f.kind, f.vals, err, kDone)
	}
	if f, err := readFrame(&b); err != nil || f.kind != kFail || f.text != "bad news" {
		t.Errorf("frame 2 = %v %q, %v; want %v \"bad news\"", f.kind, f.text, err, kFail)
	}
	if f, err := readFrame(&b); err != nil || f.kind != kHello || len(f.vals) != 0 {
		t.Errorf("frame 3 = %v %v, %v; want %v with no values", f.kind, f.vals, err, kHello)
	}
	if _, err := readFrame(&b); err != io.EOF {
		t.Errorf("after the last frame: %v; want io.EOF", err)
	}

	bad := []struct {
		name string
		in   []byte
		want error // nil: any error but EOF
	}{
		{"cut in the header", wire[:3], io.ErrUnexpectedEOF},
		{"cut in the payload", wire[:10], io.ErrUnexpectedEOF},
		{"too long", []byte{'D', 0, 0, 0, 1}, nil},
		{"not whole values", []byte{'D', 3, 0, 0, 0, 1, 2, 3}, nil},
	}
	for _, tt := range bad {
		_, err := readFrame(bytes.NewReader(tt.in))
		if err == nil || err == io.EOF || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: %v; want %v", tt.name, err, cmpOr(tt.want, "an error"))
		}
	}

	if err := f.want(kDone, 2); err == nil {
		t.Errorf("want(kDone, 2) of a 3-value frame: nil; want an error")
	}
}

func cmpOr(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}
