package auth

import (
	"crypto/x509"

	"github.com/ordersaga/ordersaga"
)

// FromCertificate returns the principal a verified client certificate names: its role in
// the subject's organizational unit (customer, restaurant or operator) and its id in the
// common name. The caller must have verified the certificate against its client CA.
func FromCertificate(cert *x509.Certificate) (Principal, error) {
	if len(cert.Subject.OrganizationalUnit) != 1 {
		return Principal{}, ordersaga.Errorf(ordersaga.EUNAUTHENTICATED,
			"the client certificate names no role: put customer, restaurant or operator in its subject's OU")
	}
	p := Principal{Role: Role(cert.Subject.OrganizationalUnit[0]), ID: cert.Subject.CommonName}
	if err := p.Validate(); err != nil {
		return Principal{}, ordersaga.Errorf(ordersaga.EUNAUTHENTICATED, "the client certificate names no valid principal (%s)", ordersaga.ErrorMessage(err))
	}
	return p, nil
}
