package auth

// The policy: what each role may do. Each function answers for one kind of request; the
// API asks them after it has authenticated the caller and before it does anything.

// MayActForCustomer reports whether p may act on customer's account and orders (place,
// read, list, watch, cancel, read the balance): the customer itself, or an operator.
func MayActForCustomer(p Principal, customerID string) bool {
	return p.Role == Operator || (p.Role == Customer && p.ID == customerID)
}

// MaySeeOrder reports whether p may read an order of customerID at restaurantID: its
// customer, its restaurant, or an operator.
func MaySeeOrder(p Principal, customerID, restaurantID string) bool {
	return MayActForCustomer(p, customerID) || MayDecide(p, restaurantID)
}

// MayDecide reports whether p may approve or reject an order at restaurantID: that
// restaurant, or an operator.
func MayDecide(p Principal, restaurantID string) bool {
	return p.Role == Operator || (p.Role == Restaurant && p.ID == restaurantID)
}

// MayOperate reports whether p may do what only operators may: credit accounts and use
// the generic event store.
func MayOperate(p Principal) bool { return p.Role == Operator }

// MaySetMenu reports whether p may change the menu of restaurantID: that restaurant, or an
// operator. Anyone may read a menu.
func MaySetMenu(p Principal, restaurantID string) bool {
	return p.Role == Operator || (p.Role == Restaurant && p.ID == restaurantID)
}
