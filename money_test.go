package ordersaga_test

import (
	"math"
	"testing"

	"github.com/ordersaga/ordersaga"
)

func TestMoneyIsWrittenInMajorUnits(t *testing.T) {
	for _, c := range []struct {
		minor    int64
		currency string
		want     string
	}{
		{400, "EUR", "4.00 EUR"},
		{5, "USD", "0.05 USD"},
		{-1250, "EUR", "-12.50 EUR"},
		{400, "JPY", "400 JPY"},
		{1234, "KWD", "1.234 KWD"},
		{199, "XYZ", "1.99 XYZ"},
		{math.MinInt64, "EUR", "-92233720368547758.08 EUR"},
		{math.MaxInt64, "EUR", "92233720368547758.07 EUR"},
	} {
		if got := ordersaga.FormatMoney(c.minor, c.currency); got != c.want {
			t.Errorf("FormatMoney(%d, %s) = %q, want %q", c.minor, c.currency, got, c.want)
		}
	}
}
