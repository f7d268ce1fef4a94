FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/base.txt
COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
RUN useradd --create-home subsync && mkdir -p /app/var && chown -R subsync /app/var
USER subsync
EXPOSE 8000
ENV WEB_CONCURRENCY=3
CMD ["python", "-m", "subsync.server"]
