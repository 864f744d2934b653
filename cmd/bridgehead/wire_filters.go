package main

import (
	"fmt"

	"bridgehead.dev/bridgehead/gateway/filter"
)

// buildFilters makes the filter chain a listener names, in its order,
// from the filters section. Configured media types are used as given.
// With no extension lists configured the
// attachment filter refuses filter.DefaultExtensions. The executable media
// types of filter.DefaultTypes are stripped when the config only strips,
// and refused otherwise.
func buildFilters(cfg *Config, names []string) (filter.Chain, error) {
	var chain filter.Chain
	for _, name := range names {
		var (
			f   filter.Filter
			err error
		)
		switch name {
		case FilterAttachments:
			a := cfg.Filters.Attachments
			p := filter.AttachmentPolicy{RejectExtensions: a.Reject, StripExtensions: a.Strip,
				RejectTypes: a.RejectTypes, StripTypes: a.StripTypes}
			switch {
			case len(a.RejectTypes) > 0 || len(a.StripTypes) > 0:
				if len(a.Reject) == 0 && len(a.Strip) == 0 {
					p.RejectExtensions = filter.DefaultExtensions()
				}
			case len(a.Reject) == 0 && len(a.Strip) == 0:
				p.RejectExtensions, p.RejectTypes = filter.DefaultExtensions(), filter.DefaultTypes()
			case len(a.Reject) == 0:
				p.StripTypes = filter.DefaultTypes()
			default:
				p.RejectTypes = filter.DefaultTypes()
			}
			f, err = filter.NewAttachments(p)
		case FilterClamAV:
			onErr, perr := filter.ParseOnError(cfg.Filters.ClamAV.OnError)
			if perr != nil {
				return nil, fmt.Errorf("clamav: %w", perr)
			}
			f, err = filter.NewClamAV(filter.ClamAVOptions{Address: cfg.Filters.ClamAV.Address, OnError: onErr})
		case FilterRspamd:
			onErr, perr := filter.ParseOnError(cfg.Filters.Rspamd.OnError)
			if perr != nil {
				return nil, fmt.Errorf("rspamd: %w", perr)
			}
			f, err = filter.NewRspamd(filter.RspamdOptions{URL: cfg.Filters.Rspamd.URL, OnError: onErr})
		default:
			return nil, fmt.Errorf("unknown filter %q", name)
		}
		if err != nil {
			return nil, err
		}
		chain = append(chain, f)
	}
	return chain, nil
}
