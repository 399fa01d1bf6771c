# File header comment
// another header comment

/* block comment
   spanning lines */

resource "a" "b" { # comment after block open
  # own-line comment inside block
  name        = "x" # trailing comment
  longer_name = "y" // trailing slash comment
  /* own-line block comment */
  value = /* inline */ 42
  list = [
    # comment inside list
    1, # one
    2, /* two */
  ]
  obj = {
    a = 1 # first
    # comment between items
    bb = 2
  }
  /*
   * starred block comment,
   * indented too far
   */
  last = true
} # after block close
# trailing comment at end of file
