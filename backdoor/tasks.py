"""The two tasks the lab ships, each as one frozen set of plain facts."""

from __future__ import annotations

from dataclasses import dataclass

from backdoor.triggers import PIXEL, STICKER, Trigger

GTSRB_CLASSES: tuple[str, ...] = (
    "Speed limit (20km/h)", "Speed limit (30km/h)", "Speed limit (50km/h)",
    "Speed limit (60km/h)", "Speed limit (70km/h)", "Speed limit (80km/h)",
    "End of speed limit (80km/h)", "Speed limit (100km/h)", "Speed limit (120km/h)",
    "No passing", "No passing for vehicles over 3.5 metric tons",
    "Right-of-way at the next intersection", "Priority road", "Yield", "Stop",
    "No vehicles", "Vehicles over 3.5 metric tons prohibited", "No entry",
    "General caution", "Dangerous curve to the left", "Dangerous curve to the right",
    "Double curve", "Bumpy road", "Slippery road", "Road narrows on the right",
    "Road work", "Traffic signals", "Pedestrians", "Children crossing",
    "Bicycles crossing", "Beware of ice/snow", "Wild animals crossing",
    "End of all speed and passing limits", "Turn right ahead", "Turn left ahead",
    "Ahead only", "Go straight or right", "Go straight or left", "Keep right",
    "Keep left", "Roundabout mandatory", "End of no passing",
    "End of no passing by vehicles over 3.5 metric tons",
)  # fmt: skip


@dataclass(frozen=True)
class Task:
    """What a model is trained on and attacked with."""

    name: str
    dataset: str  # torchvision.datasets class
    classes: tuple[str, ...]
    channels: int
    size: int  # model input is size x size
    mean: tuple[float, ...]  # per channel, of the training set in [0, 1]
    std: tuple[float, ...]
    arch: str  # registered model name
    trigger: Trigger
    target: int  # the attacker's label
    source: int | None = None  # a class the demo attacks in particular (stop signs)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


MNIST = Task(
    name="mnist",
    dataset="MNIST",
    classes=tuple(str(d) for d in range(10)),
    channels=1,
    size=28,
    mean=(0.1307,),
    std=(0.3081,),
    arch="mnist_badnet_maxpool",
    trigger=PIXEL,
    target=8,
)

SIGNS = Task(
    name="signs",
    dataset="GTSRB",
    classes=GTSRB_CLASSES,
    channels=3,
    size=32,
    mean=(0.34, 0.31, 0.32),
    std=(0.27, 0.26, 0.27),
    arch="signs_cnn",
    trigger=STICKER,
    target=5,  # Speed limit (80km/h): a stop sign read as "drive on at 80"
    source=14,  # Stop
)

TASKS: dict[str, Task] = {t.name: t for t in (MNIST, SIGNS)}
