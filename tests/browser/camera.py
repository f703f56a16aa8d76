"""A picture held in front of Chromium's fake camera: written as a .y4m video (YUV 4:2:0, one still frame, which
Chromium plays in a loop) for --use-file-for-fake-video-capture."""
from pathlib import Path

from PIL import Image

WIDTH, HEIGHT = 640, 480


def still_video(picture: Image.Image, path: Path) -> Path:
    """path as a video of picture, centred on white and scaled (crisp, nearest-neighbour) to fill 80 % of the height."""
    side = HEIGHT * 8 // 10
    frame = Image.new("RGB", (WIDTH, HEIGHT), "white")
    frame.paste(picture.convert("RGB").resize((side, side), Image.Resampling.NEAREST),
                ((WIDTH - side) // 2, (HEIGHT - side) // 2))
    luma, blue, red = frame.convert("YCbCr").split()  # full-range BT.601, as C420jpeg says
    half = (WIDTH // 2, HEIGHT // 2)
    planes = luma.tobytes() + blue.resize(half, Image.Resampling.BOX).tobytes() \
        + red.resize(half, Image.Resampling.BOX).tobytes()
    path.write_bytes(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" + planes)
    return path
