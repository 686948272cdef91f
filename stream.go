package ordersaga

import (
	"regexp"
)

// MaxStreamLength is the longest a stream name may be.
const MaxStreamLength = 200

// Stream types of the order saga: the aggregates whose streams the saga writes.
const (
	// StreamTypeOrder is an order's stream, "order-<order id>".
	StreamTypeOrder = "order"
	// StreamTypeCustomer is a customer's payment account, "customer-<customer id>".
	StreamTypeCustomer = "customer"
)

var (
	aggregateTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	aggregateIDPattern   = regexp.MustCompile(`^[A-Za-z0-9_.:@-]+$`)
)

// StreamFor returns the name of an aggregate's event stream, "<aggregateType>-<aggregateID>"
// (for example "order-42"). aggregateType is lowercase letters, digits and '_', starting
// with a letter; aggregateID is letters, digits, '_', '.', ':', '@' and '-'. A violation is
// an EINVALID error naming the field "aggregate_type" or "aggregate_id".
func StreamFor(aggregateType, aggregateID string) (string, error) {
	return StreamForFields("aggregate_type", "aggregate_id", aggregateType, aggregateID)
}

// StreamForFields is StreamFor for callers whose fields have other names: an error names
// typeField or idField.
func StreamForFields(typeField, idField, aggregateType, aggregateID string) (string, error) {
	switch {
	case aggregateType == "":
		return "", Invalidf(typeField, "required")
	case !aggregateTypePattern.MatchString(aggregateType):
		return "", Invalidf(typeField, "%q must be lowercase letters, digits and '_', starting with a letter", aggregateType)
	case aggregateID == "":
		return "", Invalidf(idField, "required")
	case !aggregateIDPattern.MatchString(aggregateID):
		return "", Invalidf(idField, "%q may hold only letters, digits, '_', '.', ':', '@' and '-'", aggregateID)
	case len(aggregateType)+1+len(aggregateID) > MaxStreamLength:
		return "", Invalidf(idField, "too long: the stream name may have at most %d characters", MaxStreamLength)
	}
	return aggregateType + "-" + aggregateID, nil
}
