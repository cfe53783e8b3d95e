package seedfile

import (
	"regexp"
	"strings"
	"time"
)

// dateLayouts are tried in order. Numeric slash dates are month first.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006/01/02",
	"01/02/06",
	"1/2/06",
	"01/02/2006",
	"1/2/2006",
	"01/02/2006 15:04",
	"1/2/2006 3:04 PM",
	"January 2, 2006",
	"January 2 2006",
	"Jan 2, 2006",
	"Jan 2 2006",
	"2 January 2006",
	"2 Jan 2006",
	"January 2, 2006 3:04 PM",
	"January 2, 2006 15:04",
	"Jan 2, 2006 3:04 PM",
	"2 January 2006 15:04",
	"Monday, January 2, 2006",
	"Monday, 2 January 2006",
	"Mon, January 2, 2006",
	"Mon, Jan 2, 2006",
	time.RFC1123Z,
	time.RFC1123,
	time.RFC822Z,
	time.RFC822,
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
}

var (
	// "Dec. 2" -> "Dec 2", "Sept" -> "Sep"
	abbrevDot = regexp.MustCompile(`\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.`)
	// "2nd" -> "2"
	ordinal = regexp.MustCompile(`\b(\d{1,2})(st|nd|rd|th)\b`)
	// trailing " at 3:04 PM", a zone name such as " ET" or " GMT", or "(UTC)"
	trailingZone = regexp.MustCompile(`\s*\(?\b(ET|EST|EDT|CT|CST|CDT|PT|PST|PDT|GMT|UTC|BST|CET|CEST)\)?$`)
)

// parseDate reads a date in one of the common forms news sites print. Dates
// before 1900 or after 2200 are rejected as mistakes.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(strings.TrimRight(s, "."))
	if s == "" || len(s) > 60 {
		return time.Time{}, false
	}
	s = abbrevDot.ReplaceAllString(s, "$1")
	s = strings.Replace(s, "Sept ", "Sep ", 1)
	s = ordinal.ReplaceAllString(s, "$1")
	s = strings.Replace(s, " at ", " ", 1)
	for _, candidate := range []string{s, trailingZone.ReplaceAllString(s, "")} {
		for _, layout := range dateLayouts {
			t, err := time.Parse(layout, candidate)
			if err == nil && t.Year() >= 1900 && t.Year() <= 2200 {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}
