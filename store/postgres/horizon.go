package postgres

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/trailmark/audit/storekit"
)

// A walk's horizon is the snapshot of its first page, in the text form
// of pg_snapshot ("xmin:xmax:xip,…"), carried in the cursor as unsigned
// varints: xmin, xmax-xmin, then each in-progress xid minus xmin.

// snapshotHorizon returns the cursor horizon for the pg_snapshot text
// snap, or nil if snap does not parse. A snapshot with more in-progress
// transactions than the horizon can hold is carried as the snapshot
// "xmin:xmin:", which sees only the transactions older than all of them:
// the walk's later pages then leave out the records of newer ones, and
// the tail after it returns them all (some of them a second time, those
// its first page returned), so that none is lost (see Query).
func snapshotHorizon(snap string) []byte {
	parts := strings.Split(snap, ":")
	if len(parts) != 3 {
		return nil
	}
	xmin, err1 := strconv.ParseUint(parts[0], 10, 64)
	xmax, err2 := strconv.ParseUint(parts[1], 10, 64)
	if err1 != nil || err2 != nil || xmax < xmin {
		return nil
	}
	b := binary.AppendUvarint(nil, xmin)
	b = binary.AppendUvarint(b, xmax-xmin)
	if parts[2] == "" {
		return b
	}
	for _, x := range strings.Split(parts[2], ",") {
		xip, err := strconv.ParseUint(x, 10, 64)
		if err != nil || xip < xmin || xip >= xmax {
			return nil
		}
		b = binary.AppendUvarint(b, xip-xmin)
		if len(b) > storekit.MaxHorizon {
			return binary.AppendUvarint(binary.AppendUvarint(b[:0], xmin), 0)
		}
	}
	return b
}

// horizonSnapshot returns the pg_snapshot text of a cursor horizon made by
// snapshotHorizon, and false for none (or one it did not make).
func horizonSnapshot(h []byte) (string, bool) {
	xmin, n := binary.Uvarint(h)
	if n <= 0 {
		return "", false
	}
	h = h[n:]
	span, n := binary.Uvarint(h)
	if n <= 0 || xmin+span < xmin {
		return "", false
	}
	h = h[n:]
	var sb strings.Builder
	sb.WriteString(strconv.FormatUint(xmin, 10))
	sb.WriteByte(':')
	sb.WriteString(strconv.FormatUint(xmin+span, 10))
	sb.WriteByte(':')
	prev := uint64(0)
	for i := 0; len(h) > 0; i++ {
		d, n := binary.Uvarint(h)
		// ascending, inside [xmin, xmax), as PostgreSQL requires
		if n <= 0 || d >= span || i > 0 && d <= prev {
			return "", false
		}
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatUint(xmin+d, 10))
		prev, h = d, h[n:]
	}
	return sb.String(), true
}
