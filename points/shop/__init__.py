"""积分超市: products, stock, redemption at the counter, voids and reports."""
