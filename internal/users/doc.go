// Package users holds the users and roles of Riposte's HTTPS API, with
// bcrypt-hashed passwords kept in a JSON file and signed tokens (JWT,
// HS256) whose key lives in a file beside it, so tokens survive restarts.
//
// Three roles exist: readonly (read everything), operator (readonly plus
// running, lifting and extending responses, alert ingestion and the white
// list) and administrator (everything, including users and agent
// removal). A token names a user; the user's role is read from the store at
// every verification, so a demoted or removed user loses its rights at once.
package users
