package autoconfig

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
)

// plistDict is a property-list dictionary with its keys in order.
type plistDict []plistEntry

// plistEntry is one key of a plistDict; Value is a string, int, bool,
// plistDict or []plistDict.
type plistEntry struct {
	Key   string
	Value any
}

// plistDoctype is the document type line of an XML property list.
const plistDoctype = `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`

// encodePlist writes d as an XML property list; every string goes through
// encoding/xml's escaping.
func encodePlist(d plistDict) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(plistDoctype + "\n")
	e := xml.NewEncoder(&b)
	e.Indent("", "\t")
	root := xml.StartElement{Name: xml.Name{Local: "plist"}, Attr: []xml.Attr{{Name: xml.Name{Local: "version"}, Value: "1.0"}}}
	if err := e.EncodeToken(root); err != nil {
		return nil, err
	}
	if err := encodePlistValue(e, d); err != nil {
		return nil, err
	}
	if err := e.EncodeToken(root.End()); err != nil {
		return nil, err
	}
	if err := e.Flush(); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// encodePlistValue writes one value.
func encodePlistValue(e *xml.Encoder, v any) error {
	simple := func(name, text string) error {
		return e.EncodeElement(text, xml.StartElement{Name: xml.Name{Local: name}})
	}
	switch v := v.(type) {
	case string:
		return simple("string", v)
	case int:
		return simple("integer", strconv.Itoa(v))
	case bool:
		name := "false"
		if v {
			name = "true"
		}
		start := xml.StartElement{Name: xml.Name{Local: name}}
		if err := e.EncodeToken(start); err != nil {
			return err
		}
		return e.EncodeToken(start.End())
	case plistDict:
		start := xml.StartElement{Name: xml.Name{Local: "dict"}}
		if err := e.EncodeToken(start); err != nil {
			return err
		}
		for _, kv := range v {
			if err := simple("key", kv.Key); err != nil {
				return err
			}
			if err := encodePlistValue(e, kv.Value); err != nil {
				return err
			}
		}
		return e.EncodeToken(start.End())
	case []plistDict:
		start := xml.StartElement{Name: xml.Name{Local: "array"}}
		if err := e.EncodeToken(start); err != nil {
			return err
		}
		for _, d := range v {
			if err := encodePlistValue(e, d); err != nil {
				return err
			}
		}
		return e.EncodeToken(start.End())
	}
	return fmt.Errorf("plist: cannot encode %T", v)
}
