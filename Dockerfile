# The one binary in a small image (used by deploy/compose/scaleout.yml).
FROM node:22-bookworm AS assets
WORKDIR /src/assets
COPY assets/package.json assets/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY assets/ ./
RUN npm run build

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=assets /src/assets/dist ./assets/dist
RUN go build -o /zhili ./cmd/zhili

FROM debian:bookworm-slim
RUN useradd --system zhili && apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /zhili /usr/local/bin/zhili
USER zhili
ENTRYPOINT ["/usr/local/bin/zhili"]
