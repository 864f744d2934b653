package gateway

import (
	"bufio"
	"io"
)

// dataBufferSize is the read buffer of one message's DATA.
const dataBufferSize = 32 << 10

// dataReader returns a buffered reader over r for one message's DATA,
// reusing the buffer of an earlier message: at hundreds of messages a
// second, a fresh 32 KiB buffer each was most of what a session allocated.
func (c *control) dataReader(r io.Reader) *bufio.Reader {
	if br, ok := c.readers.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, dataBufferSize)
}

// putDataReader gives br back once nothing refers to its buffer.
func (c *control) putDataReader(br *bufio.Reader) {
	br.Reset(nil)
	c.readers.Put(br)
}
