package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/auditlane/auditlane/common/audit"
)

// input is one source of events.
type input struct {
	name string
	r    io.Reader
	size int64 // -1 when unknown
	c    io.Closer
}

// openInputs opens the named files ("-" or none: stdin), transparently
// decompressing gzip.
func openInputs(names []string, stdin io.Reader) ([]*input, error) {
	if len(names) == 0 {
		names = []string{"-"}
	}
	var ins []*input
	for _, n := range names {
		in := &input{name: n, size: -1}
		if n == "-" {
			in.name, in.r = "stdin", stdin
		} else {
			f, err := os.Open(n)
			if err != nil {
				closeInputs(ins)
				return nil, err
			}
			if st, err := f.Stat(); err == nil {
				in.size = st.Size()
			}
			in.r, in.c = f, f
		}
		br := bufio.NewReaderSize(in.r, 64<<10)
		if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			zr, err := gzip.NewReader(br)
			if err != nil {
				closeInputs(append(ins, in))
				return nil, fmt.Errorf("%s: %w", in.name, err)
			}
			in.r, in.size = zr, -1
		} else {
			in.r = br
		}
		ins = append(ins, in)
	}
	return ins, nil
}

func closeInputs(ins []*input) {
	for _, in := range ins {
		if in.c != nil {
			in.c.Close()
		}
	}
}

// decodeInputs decodes every input in order, calling onEvent for each event
// and onReject for each value that could not be decoded (with its bytes
// when the decoder kept them). A callback's error stops the run; so does a
// read error, which names the input.
func decodeInputs(ins []*input, maxSize int,
	onEvent func(in *input, ev *audit.Event) error,
	onReject func(in *input, err *audit.DecodeError, raw []byte) error) error {
	for _, in := range ins {
		d := audit.NewDecoder(in.r)
		d.MaxSize = maxSize
		for {
			ev, err := d.Next()
			if err == io.EOF {
				break
			}
			var de *audit.DecodeError
			switch {
			case errors.As(err, &de):
				err = onReject(in, de, d.Rejected())
			case err != nil:
				return fmt.Errorf("%s: %w", in.name, err)
			default:
				err = onEvent(in, ev)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
