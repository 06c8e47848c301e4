"""The baseline inferd replaces: the Flask server of PyTorch's tutorial
"Deploying PyTorch in Python via a REST API with Flask", as the original
project ran it (POST / with multipart field ``image``, GET / answers
{"message": "no input image"}).

The code below is the tutorial's, unchanged in substance, except that it
loads the SAME TorchScript file inferd serves (env MODEL, via torch.jit.load)
and the class index named by env CLASS_INDEX, so that both servers do the
same work. Like the tutorial it calls model.eval(), does not wrap the forward
in torch.no_grad(), does not convert the image to RGB (dog.jpg is RGB
already) and leaves torch's thread settings at their defaults.

Run it as its users did (scripts/bench.sh does):
    MODEL=build/test-model/densenet121-seeded0.pt CLASS_INDEX=imagenet_class_index.json \\
        gunicorn -w 2 -b 127.0.0.1:PORT --chdir bench baseline_app:app
"""

import io
import json
import os

import torch
import torchvision.transforms as transforms
from PIL import Image
from flask import Flask, jsonify, request

app = Flask(__name__)
imagenet_class_index = json.load(open(os.environ.get("CLASS_INDEX", "imagenet_class_index.json")))
model = torch.jit.load(os.environ["MODEL"], map_location="cpu")
model.eval()


def transform_image(image_bytes):
    my_transforms = transforms.Compose([transforms.Resize(255),
                                        transforms.CenterCrop(224),
                                        transforms.ToTensor(),
                                        transforms.Normalize(
                                            [0.485, 0.456, 0.406],
                                            [0.229, 0.224, 0.225])])
    image = Image.open(io.BytesIO(image_bytes))
    return my_transforms(image).unsqueeze(0)


def get_prediction(image_bytes):
    tensor = transform_image(image_bytes=image_bytes)
    outputs = model.forward(tensor)
    _, y_hat = outputs.max(1)
    predicted_idx = str(y_hat.item())
    return imagenet_class_index[predicted_idx]


@app.route('/', methods=['GET', 'POST'])
def root():
    if request.method == 'POST':
        file = request.files['image']
        img_bytes = file.read()
        class_id, class_name = get_prediction(image_bytes=img_bytes)
        return jsonify({'class_id': class_id, 'class_name': class_name})
    return jsonify({'message': 'no input image'})


if __name__ == '__main__':
    app.run()
