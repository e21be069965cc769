/* test-relay-nats.c: rooms spanning relays over a real nats-server. */
#define G_LOG_DOMAIN "confab-test"

int main (void);
int
main (void)
{
  return 0;
}
