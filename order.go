package ordersaga

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"
)

// Event types of the order saga. Each is also the name of the bus channel it travels on.
const (
	EventOrderCreated    = "order-created"
	EventPaymentDebited  = "order-payment-debited"
	EventOrderApproved   = "order-approved"
	EventPaymentRefunded = "order-payment-refunded"
	EventOrderRejected   = "order-rejected"
	EventOrderCancelled  = "order-cancelled"

	EventAccountCredited = "account-credited"
	EventAccountDebited  = "account-debited"
	EventAccountRefunded = "account-refunded"
)

// EventTypes is the event catalog (DESIGN.md): the types the order saga, the accounts and
// the menus write. Other types come only through the generic event store API.
func EventTypes() []string {
	return []string{EventOrderCreated, EventPaymentDebited, EventOrderApproved, EventPaymentRefunded, EventOrderRejected,
		EventOrderCancelled, EventAccountCredited, EventAccountDebited, EventAccountRefunded, EventMenuItemSet, EventMenuItemRemoved}
}

// Reasons an order is rejected or cancelled.
const (
	ReasonPaymentDeclined    = "payment_declined"
	ReasonRestaurantRejected = "restaurant_rejected"
	ReasonRestaurantTimeout  = "restaurant_timeout"
	ReasonCancelled          = "cancelled"
	ReasonFailed             = "failed"
)

// Order statuses, as the saga and the read models report them.
const (
	StatusPending          = "pending"
	StatusCreated          = "created"
	StatusPaid             = "paid"
	StatusAwaitingDecision = "awaiting_decision"
	StatusApproved         = "approved"
	StatusCompensating     = "compensating"
	// StatusRefunded is the read model's status between a refund and the rejection or
	// cancellation that follows it.
	StatusRefunded  = "refunded"
	StatusRejected  = "rejected"
	StatusCancelled = "cancelled"
)

// Limits of an order.
const (
	MaxItems    = 100
	MaxQuantity = 1000
	// MaxItemName is the longest an item's name may be, in characters.
	MaxItemName = 200
)

// Item is one line of an order. UnitPrice is in minor units (cents) of the order's
// currency. In an OrderInput, UnitPrice and Name may be left out: the restaurant's menu
// prices and names every item (Menu.Price); a price the client sends must equal the menu's.
type Item struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	UnitPrice int64  `json:"unit_price"`
	Quantity  int64  `json:"quantity"`
}

// OrderInput is what starts an order saga. It is plain JSON so that
// `temporal workflow start --input '{...}'` can start one.
type OrderInput struct {
	OrderID      string `json:"order_id"`
	CustomerID   string `json:"customer_id"`
	RestaurantID string `json:"restaurant_id"`
	Items        []Item `json:"items"`
	Currency     string `json:"currency"`
	// DecisionTimeout is how long the restaurant has to decide, as a Go duration ("90s",
	// "5m"); empty means DefaultDecisionTimeout.
	DecisionTimeout string `json:"decision_timeout,omitempty"`
	// MenuVersion is the version of the restaurant's menu the order is priced at; 0 (left
	// out) prices it at the menu's version when the saga creates the order. The API sets
	// it to the version it checked the order against.
	MenuVersion int64 `json:"menu_version,omitempty"`
}

// MinDecisionTimeout is the shortest time a restaurant may be given to decide.
const MinDecisionTimeout = time.Second

// DefaultDecisionTimeout is how long a restaurant has to approve or reject an order.
const DefaultDecisionTimeout = 5 * time.Minute

var (
	idPattern       = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,100}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// ValidateID returns an EINVALID error naming field unless value can identify an order,
// a customer or a restaurant.
func ValidateID(field, value string) error {
	if value == "" {
		return Invalidf(field, "required")
	}
	if !idPattern.MatchString(value) {
		return Invalidf(field, "%q: use 1 to 100 letters, digits, '_', '.', ':', '@' or '-'", value)
	}
	return nil
}

// ValidateCurrency returns an EINVALID error naming field unless value is a currency code.
func ValidateCurrency(field, value string) error {
	if !currencyPattern.MatchString(value) {
		return Invalidf(field, "%q is not an ISO 4217 code such as EUR or USD", value)
	}
	return nil
}

// Same reports whether o and other place the same order: the same ids, items (in order),
// currency and decision timeout. The menu version is not part of what was ordered: placing
// the same order again after the menu changed is still the same order.
func (o OrderInput) Same(other OrderInput) bool {
	return o.OrderID == other.OrderID && o.CustomerID == other.CustomerID && o.RestaurantID == other.RestaurantID &&
		o.Currency == other.Currency && o.DecisionTimeout == other.DecisionTimeout && slices.Equal(o.Items, other.Items)
}

// Validate returns an EINVALID error naming the first field that is wrong.
func (o OrderInput) Validate() error {
	for _, f := range []struct{ name, value string }{
		{"order_id", o.OrderID}, {"customer_id", o.CustomerID}, {"restaurant_id", o.RestaurantID},
	} {
		if err := ValidateID(f.name, f.value); err != nil {
			return err
		}
	}
	if err := ValidateCurrency("currency", o.Currency); err != nil {
		return err
	}
	switch {
	case len(o.Items) == 0:
		return Invalidf("items", "at least one item is required")
	case len(o.Items) > MaxItems:
		return Invalidf("items", "%d items; the limit is %d", len(o.Items), MaxItems)
	}
	for i, it := range o.Items {
		field := fmt.Sprintf("items[%d]", i)
		if err := validateItemID(field+".id", it.ID); err != nil {
			return err
		}
		if err := validateItemName(field+".name", it.Name); err != nil {
			return err
		}
		switch {
		case it.UnitPrice < 0 || it.UnitPrice > MaxUnitPrice:
			return Invalidf(field+".unit_price", "must be between 1 and %d minor units (cents), or left out to take the menu's, got %d", MaxUnitPrice, it.UnitPrice)
		case it.Quantity <= 0 || it.Quantity > MaxQuantity:
			return Invalidf(field+".quantity", "must be between 1 and %d, got %d", MaxQuantity, it.Quantity)
		}
	}
	if o.MenuVersion < 0 {
		return Invalidf("menu_version", "must not be negative, got %d", o.MenuVersion)
	}
	if _, err := o.Amount(); err != nil {
		return err
	}
	if _, err := o.Timeout(); err != nil {
		return err
	}
	return nil
}

// Amount is the order's total in minor units, computed from its items' unit prices (those
// of a priced order, Menu.Price, are the menu's); the client never sends it. Overflow is
// an EINVALID error.
func (o OrderInput) Amount() (int64, error) {
	var total int64
	for i, it := range o.Items {
		if it.UnitPrice > 0 && it.Quantity > math.MaxInt64/it.UnitPrice {
			return 0, Invalidf(fmt.Sprintf("items[%d]", i), "line total overflows")
		}
		line := it.UnitPrice * it.Quantity
		if total > math.MaxInt64-line {
			return 0, Invalidf("items", "order total overflows")
		}
		total += line
	}
	return total, nil
}

// Timeout returns the restaurant's decision timeout.
func (o OrderInput) Timeout() (time.Duration, error) {
	if o.DecisionTimeout == "" {
		return DefaultDecisionTimeout, nil
	}
	d, err := time.ParseDuration(o.DecisionTimeout)
	if err != nil || d < MinDecisionTimeout || d > 7*24*time.Hour {
		return 0, Invalidf("decision_timeout", "%q is not a duration between 1s and 168h (for example \"90s\" or \"5m\")", o.DecisionTimeout)
	}
	return d, nil
}

// OrderCreated is the payload of EventOrderCreated.
type OrderCreated struct {
	OrderID      string `json:"order_id"`
	CustomerID   string `json:"customer_id"`
	RestaurantID string `json:"restaurant_id"`
	Items        []Item `json:"items"`
	Amount       int64  `json:"amount"`
	Currency     string `json:"currency"`
	// MenuVersion is the version of the restaurant's menu the items were priced at; 0 in
	// orders created before menus.
	MenuVersion int64 `json:"menu_version,omitempty"`
}

// PaymentDebited is the payload of EventPaymentDebited.
type PaymentDebited struct {
	OrderID    string `json:"order_id"`
	PaymentID  string `json:"payment_id"`
	CustomerID string `json:"customer_id"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
}

// OrderApproved is the payload of EventOrderApproved.
type OrderApproved struct {
	OrderID      string `json:"order_id"`
	RestaurantID string `json:"restaurant_id"`
}

// PaymentRefunded is the payload of EventPaymentRefunded.
type PaymentRefunded struct {
	OrderID   string `json:"order_id"`
	PaymentID string `json:"payment_id"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
}

// OrderRejected is the payload of EventOrderRejected.
type OrderRejected struct {
	OrderID string `json:"order_id"`
	Reason  string `json:"reason"`
}

// OrderCancelled is the payload of EventOrderCancelled.
type OrderCancelled struct {
	OrderID string `json:"order_id"`
	Reason  string `json:"reason"`
	By      string `json:"by"`
}

// AccountEntry is the payload of the account events: a credit (funding), a debit for an
// order, or the refund of that debit.
type AccountEntry struct {
	CustomerID string `json:"customer_id"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	OrderID    string `json:"order_id,omitempty"`
	PaymentID  string `json:"payment_id,omitempty"`
	Reference  string `json:"reference,omitempty"`
}

// OrderMark says when the read model reflected a version of an order: when the bus
// published the event (zero when the projector read it from the store to fill a gap) and
// when the row took it in, by the database's clock.
type OrderMark struct {
	Version     int64
	PublishedAt time.Time
	ProjectedAt time.Time
}

// OrderView is an order as the read models hold it: one row per order stream, reflecting
// the stream up to Version.
type OrderView struct {
	OrderID      string    `json:"order_id"`
	CustomerID   string    `json:"customer_id"`
	RestaurantID string    `json:"restaurant_id"`
	Status       string    `json:"status"`
	Items        []Item    `json:"items"`
	Amount       int64     `json:"amount"`
	Currency     string    `json:"currency"`
	Reason       string    `json:"reason,omitempty"`
	Version      int64     `json:"version"`
	CreatedAt    time.Time `json:"created_at"`
	// UpdatedAt is when the order's last event was recorded.
	UpdatedAt time.Time `json:"updated_at"`
	// ProjectedAt is when the read model took that event in (the database's clock, as
	// UpdatedAt): ProjectedAt - UpdatedAt is the projection lag. Zero in rows written
	// before the read model recorded it.
	ProjectedAt time.Time `json:"projected_at,omitzero"`
}

// Terminal reports whether the order will not change any more.
func (o OrderView) Terminal() bool {
	return o.Status == StatusApproved || o.Status == StatusRejected || o.Status == StatusCancelled
}

// BalanceView is a customer's balance as the read models hold it.
type BalanceView struct {
	CustomerID string    `json:"customer_id"`
	Balance    int64     `json:"balance"`
	Currency   string    `json:"currency"`
	Version    int64     `json:"version"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// OrderFilter selects orders to list; empty fields match everything.
type OrderFilter struct {
	CustomerID   string
	RestaurantID string
	Status       string
}
