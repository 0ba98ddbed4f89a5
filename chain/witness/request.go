package witness

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"
)

// maxProofLines is the most consistency proof lines a request may hold
// (C2SP tlog-witness: a client MUST NOT send more than 63).
const maxProofLines = 63

// formatRequest returns an add-checkpoint request body.
func formatRequest(oldSize int64, proof tlog.TreeProof, signed []byte) []byte {
	b := make([]byte, 0, 32+len(proof)*45+len(signed))
	b = append(b, "old "...)
	b = strconv.AppendInt(b, oldSize, 10)
	b = append(b, '\n')
	for _, h := range proof {
		b = base64.StdEncoding.AppendEncode(b, h[:])
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, signed...)
}

// parseRequest splits an add-checkpoint request body into the old size,
// the consistency proof and the signed checkpoint. Every error wraps
// ErrBadRequest.
func parseRequest(body []byte) (oldSize int64, proof tlog.TreeProof, signed []byte, err error) {
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return 0, nil, nil, fmt.Errorf("%w: no old size line", ErrBadRequest)
	}
	num, ok := bytes.CutPrefix(line, []byte("old "))
	if !ok {
		return 0, nil, nil, fmt.Errorf("%w: first line %.40q is not \"old <size>\"", ErrBadRequest, line)
	}
	oldSize, err = strconv.ParseInt(string(num), 10, 64)
	if err != nil || oldSize < 0 || strconv.FormatInt(oldSize, 10) != string(num) {
		return 0, nil, nil, fmt.Errorf("%w: old size %.40q is not a canonical non-negative decimal", ErrBadRequest, num)
	}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return 0, nil, nil, fmt.Errorf("%w: no empty line before the checkpoint", ErrBadRequest)
		}
		if len(line) == 0 {
			break
		}
		if len(proof) == maxProofLines {
			return 0, nil, nil, fmt.Errorf("%w: more than %d consistency proof lines", ErrBadRequest, maxProofLines)
		}
		h, err := base64.StdEncoding.Strict().DecodeString(string(line))
		if err != nil || len(h) != tlog.HashSize {
			return 0, nil, nil, fmt.Errorf("%w: proof line %d %.60q is not the base64 of a hash", ErrBadRequest, len(proof)+1, line)
		}
		proof = append(proof, tlog.Hash(h))
	}
	return oldSize, proof, rest, nil
}
