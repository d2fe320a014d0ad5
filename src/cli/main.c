#include <stdio.h>

int main(void)
{
    fputs("sluice: not built yet\n", stderr);
    return 1;
}
