package ordersaga

import (
	"fmt"

	xcurrency "golang.org/x/text/currency"
)

// FormatMoney writes an amount in minor units as people read it, in major units with its
// currency: 400 in EUR is "4.00 EUR", 400 in JPY is "400 JPY".
func FormatMoney(minor int64, currency string) string {
	return MajorUnits(minor, currency) + " " + currency
}

// MajorUnits writes an amount in minor units as a decimal number of the currency's major
// units, with as many decimals as ISO 4217 gives it (two for a code it does not know).
func MajorUnits(minor int64, currency string) string {
	scale := 2
	if unit, err := xcurrency.ParseISO(currency); err == nil {
		scale, _ = xcurrency.Standard.Rounding(unit)
	}
	sign, abs := "", uint64(minor)
	if minor < 0 {
		sign, abs = "-", uint64(^minor)+1 // also for the smallest int64
	}
	if scale == 0 {
		return fmt.Sprintf("%s%d", sign, abs)
	}
	pow := uint64(1)
	for range scale {
		pow *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, abs/pow, scale, abs%pow)
}
