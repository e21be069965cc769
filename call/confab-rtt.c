/* confab-rtt.c: the RTT estimator; a fixed ring, no allocation. */
#define G_LOG_DOMAIN "confab-rtt"

#include "confab-rtt.h"

#include <math.h>
#include <string.h>

void
confab_rtt_init (ConfabRtt *rtt)
{
  memset (rtt, 0, sizeof *rtt);
}

gboolean
confab_rtt_add (ConfabRtt *rtt, double sample_ms)
{
  if (!isfinite (sample_ms) || sample_ms < 0 || sample_ms > CONFAB_RTT_MAX_MS)
    return FALSE;
  rtt->samples[rtt->next] = sample_ms;
  rtt->next = (rtt->next + 1) % CONFAB_RTT_WINDOW;
  rtt->count = MIN (rtt->count + 1, CONFAB_RTT_WINDOW);
  rtt->total++;
  return TRUE;
}

double
confab_rtt_average (const ConfabRtt *rtt)
{
  double sum = 0;

  if (rtt->count == 0)
    return -1;
  for (guint i = 0; i < rtt->count; i++)
    sum += rtt->samples[i];
  return sum / rtt->count;
}
