/* test-proto.c: placeholder, replaced below in this same change. */
#include "confab-packet.h"
int main (int argc, char **argv) { g_test_init (&argc, &argv, NULL); return g_test_run (); }
