"""每周卫生评比 (weekly hygiene inspection with cross-inspection) and 每月汇总 (the monthly 流动红旗)."""
