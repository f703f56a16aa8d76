"""志愿活动 (volunteer events with QR check-in) and 户卡 (household cards)."""
