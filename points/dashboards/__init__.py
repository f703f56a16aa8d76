"""数据看板: charts of a grid subtree's points for village and town admins, each with its figures as .xlsx."""
