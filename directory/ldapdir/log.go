package ldapdir

import "log/slog"

const (
	levelWarn  = slog.LevelWarn
	levelError = slog.LevelError
)

func strAttr(k, v string) slog.Attr { return slog.String(k, v) }

func errAttr(err error) slog.Attr { return slog.String("error", err.Error()) }
