/* The one translation unit that compiles stb_image's implementation, restricted
 * to the formats inferd accepts so that no other decoder is reachable from
 * client bytes. JPEG goes through libjpeg-turbo unless built with INFERD_JPEG=stb. */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_FAILURE_USERMSG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#ifdef INFERD_JPEG_STB
#define STBI_ONLY_JPEG
#endif
#include <stb_image.h>
