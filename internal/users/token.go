package users

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenLifetime is how long a token is valid (Wazuh's default
// auth_token_exp_timeout, 900 s).
const TokenLifetime = 900 * time.Second

// ErrInvalidToken is returned by Verify for a token that is malformed,
// badly signed, expired, or whose user is gone or changed password.
var ErrInvalidToken = errors.New("invalid token")

const issuer = "riposte"

// claims are a token's content. The role is not among them: it is read from
// the store at every verification.
type claims struct {
	jwt.RegisteredClaims
	Session string `json:"sid"`
}

// Issue returns a signed token for u, valid TokenLifetime, and when it
// expires.
func (s *Store) Issue(u User) (token string, exp time.Time, err error) {
	_, sid, ok := s.session(u.Name)
	if !ok {
		return "", time.Time{}, fmt.Errorf("issuing token: %q: %w", u.Name, ErrNotFound)
	}
	now := s.now().Truncate(time.Second)
	exp = now.Add(TokenLifetime)
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   u.Name,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		Session: sid,
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing token: %w", err)
	}
	return token, exp, nil
}

// Verify checks a token's signature and expiry, and that its user still
// exists with the same password. It returns the user with its current
// role.
func (s *Store) Verify(token string) (User, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.now),
	)
	if err != nil {
		return User{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	u, sid, ok := s.session(c.Subject)
	if !ok || sid != c.Session {
		return User{}, fmt.Errorf("%w: user %q is gone or changed password", ErrInvalidToken, c.Subject)
	}
	return u, nil
}
