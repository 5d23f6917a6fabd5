package query

import (
	"regexp"
	"testing"
	"time"
)

// rfc3339 is RFC 3339's date-time production, upper-case only.
var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`)

// oracleTime is the reference reading of a string: the shape by the
// RFC 3339 grammar, the value and ranges by the standard library
// (time.Time.UnmarshalText, or time.DateOnly for a bare full-date). The
// grammar comes first because the standard library tolerates shapes RFC
// 3339 forbids (one-digit hours, a comma before the fraction, depending
// on the version).
func oracleTime(s string) (time.Time, bool) {
	if len(s) == 10 {
		t, err := time.Parse(time.DateOnly, s)
		return t, err == nil
	}
	if !rfc3339.MatchString(s) {
		return time.Time{}, false
	}
	var t time.Time
	if err := t.UnmarshalText([]byte(s)); err != nil {
		return time.Time{}, false
	}
	// Offset hours and minutes are range-checked here too: some
	// standard library versions accept +24:00 and +00:60.
	if z := s[len(s)-5:]; s[len(s)-1] != 'Z' && (z[0:2] >= "24" || z[3:5] >= "60") {
		return time.Time{}, false
	}
	return t, true
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2024-05-10T12:00:00Z", "2024-05-10T12:00:00.5+02:00", "2024-05-10T12:00:00.1234567891-11:30",
		"2024-02-29", "2023-02-29", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999-23:59",
		"2024-05-10T24:00:00Z", "2024-05-10T12:00:00,5Z", "2024-05-10T12:00:00+24:00", "1969-12-31T23:59:59Z",
		"2000-03-01", "1900-02-29", "2024-05-10T12:00:00.Z", "2024-05-10t12:00:00z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, _, ok := parseTime(s)
		want, wantOK := oracleTime(s)
		if ok && (!wantOK || !got.Equal(want)) {
			t.Fatalf("parseTime(%q) = %v, standard library: %v %v", s, got, want, wantOK)
		}
		if !ok && wantOK {
			t.Fatalf("parseTime(%q) rejects what the standard library reads as %v", s, want)
		}
	})
}

// TestParseTimeMatchesStdlib runs a dense grid through both parsers, so
// the calendar arithmetic is checked without running the fuzzer.
func TestParseTimeMatchesStdlib(t *testing.T) {
	for _, y := range []string{"0000", "0001", "0400", "1600", "1899", "1900", "1969", "1970", "2000", "2023", "2024", "2100", "9999"} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				date := y + "-" + two(m) + "-" + two(d)
				for _, s := range []string{date, date + "T23:59:59.25-07:30", date + "T00:00:00Z"} {
					got, _, ok := parseTime(s)
					want, wantOK := oracleTime(s)
					if ok != wantOK || (ok && !got.Equal(want)) {
						t.Errorf("parseTime(%q) = %v %v, standard library: %v %v", s, got, ok, want, wantOK)
					}
				}
			}
		}
	}
}

func two(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }
