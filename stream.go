package ordersaga

import (
	"regexp"
	"strings"
)

// MaxStreamLength is the longest a stream name may be.
const MaxStreamLength = 200

// Stream types of the order saga: the aggregates whose streams the saga writes.
const (
	// StreamTypeOrder is an order's stream, "order-<order id>".
	StreamTypeOrder = "order"
	// StreamTypeCustomer is a customer's payment account, "customer-<customer id>".
	StreamTypeCustomer = "customer"
	// StreamTypeRestaurant is a restaurant's menu, "restaurant-<restaurant id>": reserved
	// for the menu commands, so that nothing appended through the generic event store API
	// can ever price an order.
	StreamTypeRestaurant = "restaurant"
)

var (
	aggregateTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	aggregateIDPattern   = regexp.MustCompile(`^[A-Za-z0-9_.:@-]+$`)
)

// NewStream returns the stream of an aggregate, "<aggregateType>-<aggregateID>" (for
// example "order-42"). aggregateType is lowercase letters, digits and '_', starting with a
// letter; aggregateID is letters, digits, '_', '.', ':', '@' and '-'. A violation is an
// EINVALID error naming the field "aggregate_type" or "aggregate_id".
func NewStream(aggregateType, aggregateID string) (Stream, error) {
	return NewStreamWithFields("aggregate_type", "aggregate_id", aggregateType, aggregateID)
}

// NewStreamWithFields is NewStream for callers whose fields have other names: an error
// names typeField or idField.
func NewStreamWithFields(typeField, idField, aggregateType, aggregateID string) (Stream, error) {
	switch {
	case aggregateType == "":
		return Stream{}, Invalidf(typeField, "required")
	case !aggregateTypePattern.MatchString(aggregateType):
		return Stream{}, Invalidf(typeField, "%q must be lowercase letters, digits and '_', starting with a letter", aggregateType)
	case aggregateID == "":
		return Stream{}, Invalidf(idField, "required")
	case !aggregateIDPattern.MatchString(aggregateID):
		return Stream{}, Invalidf(idField, "%q may hold only letters, digits, '_', '.', ':', '@' and '-'", aggregateID)
	case len(aggregateType)+1+len(aggregateID) > MaxStreamLength:
		return Stream{}, Invalidf(idField, "too long: the stream name may have at most %d characters", MaxStreamLength)
	}
	return Stream{typ: aggregateType, id: aggregateID}, nil
}

// Stream names an aggregate's event stream: "<type>-<id>", such as "order-42". A Stream
// is valid by construction (NewStream, ParseStream, OrderStream, CustomerStream), so it is
// checked once, where it is made; its zero value is no stream, which the store refuses.
type Stream struct {
	typ, id string
}

// ParseStream returns the stream named name ("order-42": the type is what comes before the
// first '-'), or an EINVALID error naming "stream".
func ParseStream(name string) (Stream, error) {
	if name == "" {
		return Stream{}, Invalidf("stream", "required")
	}
	typ, id, _ := strings.Cut(name, "-")
	s, err := NewStream(typ, id)
	if err != nil {
		return Stream{}, Invalidf("stream", "%q is not a stream name of the form <type>-<id> (%s)", name, ErrorMessage(err))
	}
	return s, nil
}

// OrderStream is the event stream of an order; an invalid order id is an EINVALID error
// naming "order_id".
func OrderStream(orderID string) (Stream, error) {
	if err := ValidateID("order_id", orderID); err != nil {
		return Stream{}, err
	}
	return Stream{typ: StreamTypeOrder, id: orderID}, nil
}

// CustomerStream is the event stream of a customer's payment account; an invalid customer
// id is an EINVALID error naming "customer_id".
func CustomerStream(customerID string) (Stream, error) {
	if err := ValidateID("customer_id", customerID); err != nil {
		return Stream{}, err
	}
	return Stream{typ: StreamTypeCustomer, id: customerID}, nil
}

// String is the stream's name, "<type>-<id>"; "" for the zero Stream.
func (s Stream) String() string {
	if s.IsZero() {
		return ""
	}
	return s.typ + "-" + s.id
}

// Type is the stream's aggregate type ("order").
func (s Stream) Type() string { return s.typ }

// ID is the stream's aggregate id ("42").
func (s Stream) ID() string { return s.id }

// IsZero reports whether s is no stream.
func (s Stream) IsZero() bool { return s.typ == "" }

// MustParseStream is ParseStream for names known to be valid (constants, tests); it panics
// on an invalid one.
func MustParseStream(name string) Stream {
	s, err := ParseStream(name)
	if err != nil {
		panic(err)
	}
	return s
}
