/* confab-rtt.h: round-trip time from echoed probes (PROTOCOL.md §5): samples
 * outside 0–10,000 ms are discarded, the estimate is the mean of the last 10. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CONFAB_RTT_WINDOW 10
#define CONFAB_RTT_MAX_MS 10000.0

typedef struct
{
  double samples[CONFAB_RTT_WINDOW];
  guint count;   /* valid samples, at most CONFAB_RTT_WINDOW */
  guint next;    /* ring position of the next sample */
  guint64 total; /* accepted samples ever */
} ConfabRtt;

void confab_rtt_init (ConfabRtt *rtt);
/* Returns FALSE (and ignores it) when @sample_ms is out of range. */
gboolean confab_rtt_add (ConfabRtt *rtt, double sample_ms);
/* Mean of the last samples, or -1 before the first. */
double confab_rtt_average (const ConfabRtt *rtt);

G_END_DECLS
