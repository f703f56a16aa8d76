"""积分细则: each village's rule book, versioned by effective dates."""
