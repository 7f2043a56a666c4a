"""Reports: the figures a centre answers for (takedown by platform and by route, the service,
intake), as JSON, CSV, console pages with a chart, and `hotline report`. See docs/reports.md."""
