"""English dates as the pages show them: "Nov 25, 2026", "Nov 25, 2026 14:03", "Nov 25"."""

DATE_FORMAT = "M j, Y"
DATETIME_FORMAT = "M j, Y H:i"
MONTH_DAY_FORMAT = "M j"
