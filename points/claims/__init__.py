"""积分申报 and 申诉: villagers claim points with photos, and appeal deductions."""
