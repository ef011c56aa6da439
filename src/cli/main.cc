// simtune command-line interface (placeholder until the CLI lands in this change).
#include <cstdio>
int main() { std::puts("simtune"); return 0; }
