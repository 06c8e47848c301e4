/* The one translation unit that compiles stb_image's implementation, restricted
 * to the formats inferd decodes with it (GIF; JPEG only when built with
 * INFERD_JPEG=stb) so that no other decoder is reachable from client bytes.
 * PNG goes through libpng, JPEG through libjpeg-turbo, BMP through
 * src/decode_bmp.c. */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_FAILURE_USERMSG
#define STBI_ONLY_GIF
#ifdef INFERD_JPEG_STB
#define STBI_ONLY_JPEG
#endif
#include <stb_image.h>
