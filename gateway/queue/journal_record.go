package queue

import (
	"encoding/binary"
	"errors"
)

// A journal record is one committed message:
//
//	offset  size  field
//	0       4     magic "BHJ1"
//	4       1     id length n (1..64)
//	5       3     zero
//	8       8     body length b (big endian)
//	16      4     envelope length e (big endian)
//	20      4     CRC-32C of bytes [0,20) and [24, end)
//	24      n     queue id
//	24+n    b     message bytes (CRLF line ends, no dot-stuffing)
//	24+n+b  e     the envelope as committed (JSON, newline-terminated)
//
// A record whose checksum does not match, or that runs past the end of the
// segment, ends the segment: it was never acknowledged.

// recordMagic starts every journal record.
const recordMagic = "BHJ1"

// recordHeaderLen is the fixed part of a record, before the id.
const recordHeaderLen = 24

// maxRecordID bounds the id length a record may claim (validID's limit).
const maxRecordID = 64

// recordCRC computes the checksum of the complete record rec.
func recordCRC(rec []byte) uint32 {
	h := crc32cUpdate(0, rec[:20])
	return crc32cUpdate(h, rec[24:])
}

// recordPrefixLen is the length of the part of a record before the body,
// for a message id.
func recordPrefixLen(id string) int { return recordHeaderLen + len(id) }

// startRecord resets buf to hold the header space and id of a record for
// message id; the body is then appended to it.
func startRecord(buf []byte, id string) []byte {
	buf = append(buf[:0], make([]byte, recordHeaderLen)...)
	return append(buf, id...)
}

// finishRecord appends the envelope to rec (started by startRecord, body
// appended) and fills in the header. It returns the record.
func finishRecord(rec []byte, id string, envJSON []byte) []byte {
	bodyLen := len(rec) - recordPrefixLen(id)
	rec = append(rec, envJSON...)
	copy(rec[0:4], recordMagic)
	rec[4] = byte(len(id))
	rec[5], rec[6], rec[7] = 0, 0, 0
	binary.BigEndian.PutUint64(rec[8:16], uint64(bodyLen))
	binary.BigEndian.PutUint32(rec[16:20], uint32(len(envJSON)))
	binary.BigEndian.PutUint32(rec[20:24], recordCRC(rec))
	return rec
}

// record is a parsed journal record; its slices point into the segment
// data it was parsed from.
type record struct {
	id        string
	body, env []byte
	// bodyOff is the body's offset in the record; size is the record's
	// length.
	bodyOff, size int64
}

// errBadRecord means the bytes at an offset are not an intact record: the
// segment ends there.
var errBadRecord = errors.New("no intact journal record")

// parseRecord parses the record at the start of b.
func parseRecord(b []byte) (record, error) {
	if len(b) < recordHeaderLen || string(b[0:4]) != recordMagic || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return record{}, errBadRecord
	}
	n := int(b[4])
	bodyLen := binary.BigEndian.Uint64(b[8:16])
	envLen := uint64(binary.BigEndian.Uint32(b[16:20]))
	if n == 0 || n > maxRecordID || envLen > maxTrailerEnvelope {
		return record{}, errBadRecord
	}
	if len(b) < recordHeaderLen+n {
		return record{}, errBadRecord
	}
	rest := uint64(len(b) - recordHeaderLen - n)
	if bodyLen > rest || envLen > rest-bodyLen {
		return record{}, errBadRecord
	}
	size := recordHeaderLen + n + int(bodyLen) + int(envLen)
	rec := b[:size]
	if recordCRC(rec) != binary.BigEndian.Uint32(b[20:24]) {
		return record{}, errBadRecord
	}
	id := string(rec[recordHeaderLen : recordHeaderLen+n])
	if !validID(id) {
		return record{}, errBadRecord
	}
	bodyOff := recordHeaderLen + n
	return record{
		id:      id,
		body:    rec[bodyOff : bodyOff+int(bodyLen)],
		env:     rec[bodyOff+int(bodyLen):],
		bodyOff: int64(bodyOff),
		size:    int64(size),
	}, nil
}
