// Package riposte is the root of the Riposte module. It holds no code of its
// own; its tests check rules that span the whole tree: every package has
// exactly one package comment, and the one-way flow of DESIGN's stages is
// kept (a stage never imports a stage after it).
package riposte
