package main

import (
	"io"
	"mime"
	"net/mail"
)

// addressParserLenient reads addresses whatever charset their display
// names are in: only the addresses matter to sendmail.
func addressParserLenient() *mail.AddressParser {
	return &mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(charset string, input io.Reader) (io.Reader, error) { return input, nil },
	}}
}
