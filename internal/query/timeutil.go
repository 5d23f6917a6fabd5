package query

import "time"

// parseTime reads an RFC 3339 date-time (upper-case T and Z, seconds
// 00-59, any number of fraction digits with nanoseconds kept), or a bare
// RFC 3339 full-date as midnight UTC. It is a hand-written scanner
// rather than time.Parse because every date comparison parses the
// entity's string: this is several times faster, never allocates, and
// FuzzParseTime holds it to time.Parse's answers.
// IsTime reports whether the engine reads s as a date-time (RFC 3339, or
// a bare date): = and the ordering operators then compare instants, not
// text.
func IsTime(s string) bool {
	_, _, ok := parseTime(s)
	return ok
}

func parseTime(s string) (t time.Time, dateOnly, ok bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return time.Time{}, false, false
	}
	days := daysFromCivil(year, month, day)
	if len(s) == 10 {
		return time.Unix(days*86400, 0).UTC(), true, true
	}
	if len(s) < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false, false
	}
	hour, ok1 := digits(s[11:13])
	minute, ok2 := digits(s[14:16])
	sec, ok3 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false, false
	}
	i := 19
	var nsec int64
	if s[i] == '.' {
		i++
		start := i
		scale := int64(100000000)
		for ; i < len(s) && isDigit(s[i]); i++ {
			nsec += int64(s[i]-'0') * scale
			scale /= 10
		}
		if i == start || i == len(s) {
			return time.Time{}, false, false
		}
	}
	var offset int64
	switch s[i] {
	case 'Z':
		if i+1 != len(s) {
			return time.Time{}, false, false
		}
	case '+', '-':
		if len(s)-i != 6 || s[i+3] != ':' {
			return time.Time{}, false, false
		}
		oh, ok1 := digits(s[i+1 : i+3])
		om, ok2 := digits(s[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false, false
		}
		offset = oh*3600 + om*60
		if s[i] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false, false
	}
	unix := days*86400 + hour*3600 + minute*60 + sec - offset
	return time.Unix(unix, nsec).UTC(), false, true
}

// digits reads a short run of decimal digits.
func digits(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

func daysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days from 1970-01-01 to the given proleptic
// Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y >= -1 here, and -1/400 == 0 is the right era
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// preset is one of Port's relative date ranges for between/notBetween.
type preset uint8

const (
	presetNone preset = iota
	presetToday
	presetTomorrow
	presetYesterday
	presetLastDay
	presetLastWeek
	presetLast2Weeks
	presetLastMonth
	presetLast3Months
	presetLast6Months
	presetLast12Months
	presetLast2Years
	presetLast3Years
	presetNextDay
	presetNextWeek
	presetNext2Weeks
	presetNextMonth
	presetNext3Months
	presetNext6Months
	presetNext12Months
)

// presetNames maps Port's preset names to presets. It is never written
// after initialisation.
var presetNames = map[string]preset{
	"today":        presetToday,
	"tomorrow":     presetTomorrow,
	"yesterday":    presetYesterday,
	"lastDay":      presetLastDay,
	"lastWeek":     presetLastWeek,
	"last2Weeks":   presetLast2Weeks,
	"lastMonth":    presetLastMonth,
	"last3Months":  presetLast3Months,
	"last6Months":  presetLast6Months,
	"last12Months": presetLast12Months,
	"last2Years":   presetLast2Years,
	"last3Years":   presetLast3Years,
	"nextDay":      presetNextDay,
	"nextWeek":     presetNextWeek,
	"next2Weeks":   presetNext2Weeks,
	"nextMonth":    presetNextMonth,
	"next3Months":  presetNext3Months,
	"next6Months":  presetNext6Months,
	"next12Months": presetNext12Months,
}

// bounds returns the inclusive instant range a preset covers at now.
// Port defines the month-ish presets as fixed day counts (lastMonth is
// the past 30 days, last12Months the past 365); days are calendar days in
// now's location so that a DST change does not shift them by an hour.
// today, tomorrow and yesterday are whole calendar days in that location.
func (p preset) bounds(now time.Time) (from, to time.Time) {
	day := func(offset int) (time.Time, time.Time) {
		y, m, d := now.Date()
		start := time.Date(y, m, d+offset, 0, 0, 0, 0, now.Location())
		return start, start.AddDate(0, 0, 1).Add(-time.Nanosecond)
	}
	past := func(y, m, d int) (time.Time, time.Time) { return now.AddDate(-y, -m, -d), now }
	next := func(y, m, d int) (time.Time, time.Time) { return now, now.AddDate(y, m, d) }
	switch p {
	case presetToday:
		return day(0)
	case presetTomorrow:
		return day(1)
	case presetYesterday:
		return day(-1)
	case presetLastDay:
		return past(0, 0, 1)
	case presetLastWeek:
		return past(0, 0, 7)
	case presetLast2Weeks:
		return past(0, 0, 14)
	case presetLastMonth:
		return past(0, 0, 30)
	case presetLast3Months:
		return past(0, 0, 90)
	case presetLast6Months:
		return past(0, 0, 180)
	case presetLast12Months:
		return past(0, 0, 365)
	case presetLast2Years:
		return past(2, 0, 0)
	case presetLast3Years:
		return past(3, 0, 0)
	case presetNextDay:
		return next(0, 0, 1)
	case presetNextWeek:
		return next(0, 0, 7)
	case presetNext2Weeks:
		return next(0, 0, 14)
	case presetNextMonth:
		return next(0, 0, 30)
	case presetNext3Months:
		return next(0, 0, 90)
	case presetNext6Months:
		return next(0, 0, 180)
	case presetNext12Months:
		return next(0, 0, 365)
	}
	return time.Time{}, time.Time{}
}
