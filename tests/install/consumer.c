/* consumer.c: uses the installed isle.h and libisle. */
#include <isle.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    int64_t us;
    if (strcmp(isle_version(), ISLE_VERSION_STRING) != 0 || isle_time_now(&us) != ISLE_OK ||
        isle_time_from_timespec(NULL, &us) != ISLE_EINVAL) {
        fprintf(stderr, "consumer: unexpected results from libisle\n");
        return 1;
    }
    printf("consumer: linked isle %s\n", isle_version());
    return 0;
}
