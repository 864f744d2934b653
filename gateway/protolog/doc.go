// Package protolog writes SMTP protocol logs in the W3C Extended Log File
// Format with the fields IIS SMTP writes, so that log analysers built for
// IIS read them:
//
//	#Software: bridgehead
//	#Version: 1.0
//	#Date: 2026-11-23 12:00:00
//	#Fields: date time c-ip cs-username s-sitename s-computername s-ip s-port cs-method cs-uri-query sc-status sc-bytes cs-bytes time-taken
//
// One line per SMTP command, times in UTC, spaces in values replaced by
// '+' and empty values written as '-'. Files are named exYYMMDD.log after
// the UTC day of their lines, a new one starting at midnight UTC; files
// older than the retention are deleted when a new one starts. Lines are
// buffered and written at least every second and at Close.
//
// The caller decides what goes into cs-uri-query: for AUTH only the
// mechanism, never a SASL payload.
package protolog
